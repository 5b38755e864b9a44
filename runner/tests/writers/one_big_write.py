"""Replaces TARGET with the bytes of PAYLOAD by ONE os.write (one write(2)
of the whole payload, e.g. 1 MiB), one of two ways; crash behaviour known
from how Linux works, not from crashcheck:

  in-place     open the existing target without O_TRUNC, one write over it.
               Linux copies a write page by page and takes a fatal signal
               between pages (generic_perform_write): a SIGKILL or a reader
               inside the write finds a mix of old and new pages.     defective
  temp-rename  a temp beside the target, one write, fsync, rename over the
               target, fsync the directory: the target is only ever the old
               file or the new one.                                   correct twin

Usage: one_big_write.py MODE TARGET PAYLOAD. Exits 0 only when every call
succeeded and the one write took the whole payload."""
import os
import sys

mode, target, payload = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(payload, "rb").read()
directory = os.path.dirname(os.path.abspath(target))


def write_once(fd):
    if os.write(fd, data) != len(data):
        sys.exit("one_big_write: the write was short")


if mode == "in-place":
    fd = os.open(target, os.O_WRONLY)
    write_once(fd)
    os.fsync(fd)
    os.close(fd)
elif mode == "temp-rename":
    temp = target + ".tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        write_once(fd)
        os.fchmod(fd, os.stat(target).st_mode & 0o7777)
        os.fsync(fd)
        os.close(fd)
        os.rename(temp, target)
    except BaseException:
        os.unlink(temp)  # a failed replacement leaves nothing behind
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    os.fsync(dir_fd)
    os.close(dir_fd)
else:
    sys.exit("usage: one_big_write.py in-place|temp-rename TARGET PAYLOAD")
