"""Replaces TARGET with content it builds itself (no payload) through an
O_TMPFILE file: os.open(dir, O_TMPFILE | O_WRONLY), write, the old file's
mode, then os.link("/proc/self/fd/N", name, src_dir_fd=, dst_dir_fd=,
follow_symlinks=True) gives it its first name (linkat with
AT_SYMLINK_FOLLOW; without the dir_fd arguments Python 3.11 calls link(2),
which does not follow the magic link and fails with EXDEV), close,
os.replace over the target, fsync of the directory. Crash behaviour known from how the calls
work, not from crashcheck (ground truth: strace, and
runner/powerloss/tests/tmpfile_truth.py on a real ext4):

  synced    the file fsynced before the link: correct
  unsynced  never fsynced: a power loss after the directory fsync keeps the
            new name and loses the bytes (an empty target): defective
  devfd     as synced, the link's source spelt /dev/fd/N (a symlink to
            /proc/self/fd, resolved in the writer's own process)

Any OSError after the link: remove the temp, exit 1, the target untouched.
Usage: links_tmpfile.py TARGET MODE."""
import contextlib
import json
import os
import sys
import time

target, mode = sys.argv[1], sys.argv[2]
directory, name = os.path.split(os.path.abspath(target))
temp = name + ".tmp"  # beside the target: names relative to the directory's descriptor
data = json.dumps({"status": "ok", "at": time.time_ns(), "items": list(range(32))}).encode() + b"\n"


def main():
    if mode not in ("synced", "unsynced", "devfd"):
        sys.exit("usage: links_tmpfile.py TARGET synced|unsynced|devfd")
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o600)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fchmod(fd, os.stat(target).st_mode & 0o7777)
    if mode != "unsynced":
        os.fsync(fd)
    source = ("/dev/fd/%d" if mode == "devfd" else "/proc/self/fd/%d") % fd
    os.link(source, temp, src_dir_fd=dfd, dst_dir_fd=dfd, follow_symlinks=True)
    try:
        os.close(fd)
        os.replace(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dfd)
        sys.exit("links_tmpfile: %s" % error)
    os.fsync(dfd)
    os.close(dfd)


if __name__ == "__main__":
    main()
