"""Replaces a file with a temp + rename, but swallows an fsync failure and
still exits 0 -- the "fsyncgate" pattern: after a failed fsync the data may
never reach the disk, yet the caller is told it did.
Usage: ignores_fsync_error.py TARGET PAYLOAD [--check]  (--check: the twin that fails loudly)"""
import os
import sys
import tempfile

target, payload = sys.argv[1], sys.argv[2]
check = "--check" in sys.argv[3:]
directory = os.path.dirname(target)
data = open(payload, "rb").read()
fd, temp = tempfile.mkstemp(dir=directory)
try:
    os.write(fd, data)
    try:
        os.fsync(fd)
    except OSError:
        if check:
            raise
    os.close(fd)
    os.replace(temp, target)
except BaseException:
    if os.path.exists(temp):
        os.unlink(temp)
    raise
dir_fd = os.open(directory, os.O_RDONLY)
try:
    os.fsync(dir_fd)
except OSError:
    if check:
        raise
os.close(dir_fd)
