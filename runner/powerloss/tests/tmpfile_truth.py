"""Ground truth for the model's O_TMPFILE + linkat rule, without crashcheck:
on a real ext4 file system (a loop-mounted image), the O_TMPFILE twins of
faults/tests/seccomp_writer.c run, and at once, before anything else syncs,
the backing image is read: what the file system has submitted to its disk,
which is what a power loss at that moment keeps. Expected
(faults/README.md, "O_TMPFILE"; runner/powerloss/README.md):

  tmpfile-sync     the bytes are on disk (fsync before the linkat)
  tmpfile-nosync   they are not, though the directory fsync put the name
                   there: a power loss leaves an empty target
  flink-dirsync    the name `target` is on disk (directory fsync)
  flink-nodirsync  it is not: a linkat is a directory-entry operation, not
                   durable until the directory is synced (or ext4 commits
                   its journal on its own, every 5 s: one run of three
                   without it suffices, as for the bytes above)

Each run gets a fresh image, so no earlier run's bytes are found.
Needs root and a loop device: exits 77 (CTest: skipped) without them.
Everything lives in one temporary directory, unmounted and removed at the end.
Usage: tmpfile_truth.py SECCOMP_WRITER"""
import os
import shutil
import subprocess
import sys
import tempfile

TRIES = 3
CONTENT = b"new content\n"  # what seccomp_writer.c writes


def on_disk(work, writer, action):
    """(bytes on disk, name on disk) right after the writer exits, or None when no loop mount."""
    img, mnt = os.path.join(work, "img"), os.path.join(work, "mnt")
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
    if subprocess.run(["mount", "-o", "loop", img, mnt], stderr=subprocess.DEVNULL).returncode != 0:
        return None
    try:
        subprocess.run([writer, action, mnt], check=True)
        with open(img, "rb") as f:
            disk = f.read()
        with open(os.path.join(mnt, "target"), "rb") as f:
            assert f.read() == CONTENT, "the writer did not write its target"
        return CONTENT in disk, b"target" in disk
    finally:
        subprocess.run(["umount", mnt], check=True)
        os.unlink(img)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None:
        print("skipped: needs root and mkfs.ext4")
        return 77
    writer = sys.argv[1]
    work = tempfile.mkdtemp(prefix="crashcheck-tmpfile-")
    try:
        os.mkdir(os.path.join(work, "mnt"))
        seen = {}
        for action in ("tmpfile-sync", "tmpfile-nosync", "flink-dirsync", "flink-nodirsync"):
            seen[action] = [on_disk(work, writer, action) for _ in range(TRIES)]
            if None in seen[action]:
                print("skipped: cannot loop-mount an image here")
                return 77
            print(action, "(bytes, name) on disk:", seen[action])
        ok = (all(data for data, _ in seen["tmpfile-sync"])
              and all(name for _, name in seen["tmpfile-nosync"])
              and not all(data for data, _ in seen["tmpfile-nosync"])
              and all(data and name for data, name in seen["flink-dirsync"])
              and all(data for data, _ in seen["flink-nodirsync"])
              and not all(name for _, name in seen["flink-nodirsync"]))
        print("as the model says" if ok else "the model is wrong: see faults/README.md, O_TMPFILE")
        return 0 if ok else 1
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
