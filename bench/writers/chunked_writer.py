"""A correct writer that replaces TARGET with PAYLOAD in CHUNK-byte writes:
a temp file in the target's directory, the old file's mode, every chunk
written with os.write, fsync, os.replace, directory fsync. The benchmark's
subject: its cost grows with the payload and the number of writes, as a
real service's does. Usage: chunked_writer.py TARGET PAYLOAD CHUNK"""
import os
import sys
import tempfile

target, payload, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3])
directory = os.path.dirname(target)
fd, temp = tempfile.mkstemp(dir=directory)
try:
    try:
        os.fchmod(fd, os.stat(target).st_mode & 0o7777)
    except FileNotFoundError:
        pass
    with open(payload, "rb") as source:
        while True:
            block = source.read(chunk)
            if not block:
                break
            view = memoryview(block)
            while view:
                view = view[os.write(fd, view):]
    os.fsync(fd)
    os.close(fd)
    os.replace(temp, target)
except BaseException:
    try:
        os.close(fd)
    except OSError:
        pass
    if os.path.exists(temp):
        os.unlink(temp)
    raise
dir_fd = os.open(directory, os.O_RDONLY)
os.fsync(dir_fd)
os.close(dir_fd)
