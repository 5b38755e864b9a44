"""Ground truth for the model's O_DSYNC rule, without crashcheck: on a real
ext4 file system (a loop-mounted image), a write through an O_DSYNC
descriptor puts its own pages on disk, not the file's earlier unsynced
writes elsewhere. The writer writes data.bin's tail (bytes 16..12303, its
last 16 bytes a marker in page 3) through a plain descriptor, then its first
16 bytes (a second marker) through an O_DSYNC one; at once, before anything
else syncs, the backing image is read: what the file system has submitted to
its disk. Expected (runner/powerloss/README.md): the head is there every
time, the tail is not (the kernel's own write-back may run, rarely, so one
run of three without it suffices). Twin: the tail written through an O_DSYNC
descriptor too is always there.

Needs root and a loop device: exits 77 (CTest: skipped) without them.
Everything lives in one temporary directory, unmounted and removed at the end.
Usage: dsync_range_truth.py"""
import os
import shutil
import subprocess
import sys
import tempfile

TRIES = 3


def on_disk(mnt, img, tail_flags, n):
    path = os.path.join(mnt, "data-%d.bin" % n)
    head = b"HEAD%012d" % n
    tail = b"t" * 12272 + b"LAST%012d" % n
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | tail_flags, 0o644)
    os.pwrite(fd, tail, 16)
    os.close(fd)
    fd = os.open(path, os.O_WRONLY | os.O_DSYNC)
    os.pwrite(fd, head, 0)
    os.close(fd)
    with open(img, "rb") as f:
        disk = f.read()
    return head in disk, tail[-16:] in disk


def main():
    if os.geteuid() != 0 or shutil.which("mkfs.ext4") is None:
        print("skipped: needs root and mkfs.ext4")
        return 77
    work = tempfile.mkdtemp(prefix="crashcheck-dsync-")
    img, mnt = os.path.join(work, "img"), os.path.join(work, "mnt")
    mounted = False
    try:
        os.mkdir(mnt)
        with open(img, "wb") as f:
            f.truncate(32 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", img], check=True)
        if subprocess.run(["mount", "-o", "loop", img, mnt], stderr=subprocess.DEVNULL).returncode != 0:
            print("skipped: cannot loop-mount an image here")
            return 77
        mounted = True
        plain = [on_disk(mnt, img, 0, n) for n in range(TRIES)]
        synced = [on_disk(mnt, img, os.O_DSYNC, TRIES + n) for n in range(TRIES)]
        print("plain tail:", plain, "O_DSYNC tail:", synced)
        ok = all(h for h, _ in plain + synced) and not all(t for _, t in plain) and all(t for _, t in synced)
        print("as the model says" if ok else "the model is wrong: see runner/powerloss/README.md")
        return 0 if ok else 1
    finally:
        if mounted:
            subprocess.run(["umount", mnt], check=True)
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
