"""Replaces a file with a temp + fsync + rename + directory fsync, writing
the temp's second half with a call Linux appends whatever offset it names
(pwrite(2), BUGS; issue 11 F8): the offset argument is 0, the bytes land at
the end.
Usage: appends_at_offset.py TARGET PAYLOAD MODE [--no-sync]
  rwf-append      first half by write(), second by pwritev(..., 0, RWF_APPEND)
  oappend-pwrite  the temp opened O_APPEND: first half by write(), second
                  by pwrite(..., 0)
  --no-sync       the defective twin: no fsync of the temp before the rename
"""
import os
import sys

target, payload, mode = sys.argv[1], sys.argv[2], sys.argv[3]
sync = "--no-sync" not in sys.argv[4:]
data = open(payload, "rb").read()
half = len(data) // 2
temp = target + ".tmp"
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_APPEND if mode == "oappend-pwrite" else 0)
fd = os.open(temp, flags, 0o644)
if os.write(fd, data[:half]) != half:
    sys.exit("short write")
if mode == "rwf-append":
    done = os.pwritev(fd, [data[half:]], 0, os.RWF_APPEND)
elif mode == "oappend-pwrite":
    done = os.pwrite(fd, data[half:], 0)
else:
    sys.exit("unknown mode " + mode)
if done != len(data) - half:
    os.unlink(temp)
    sys.exit("short write")
if sync:
    os.fsync(fd)
os.close(fd)
os.replace(temp, target)
dir_fd = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
os.fsync(dir_fd)
os.close(dir_fd)
