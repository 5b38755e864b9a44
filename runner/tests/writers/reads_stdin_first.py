"""A correct writer that takes its payload from standard input, reading the
first bytes of it before its first file call and the rest after: usage
reads_stdin_first.py TARGET. It replaces TARGET through a temp file in its
directory with fsync, rename and a directory fsync, then lists the directory
and exits 3 if it holds a file it did not make (another run's temp).

Forked cases (runner/src/campaign/forked.hpp) must give each case its own
stdin offset and its own directory: were the offset shared with the template,
a later case would read its stdin from where an earlier one stopped and
write something else than the payload; were the directory shared, a case
would find another's temp."""
import os
import sys

target = sys.argv[1]
head = os.read(0, 5)  # before any file call: the template has read it when it parks
directory = os.path.dirname(target)
temp = target + ".tmp." + str(os.getpid())
fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
try:
    rest = b""
    while True:
        block = os.read(0, 65536)
        if not block:
            break
        rest += block
    data = memoryview(head + rest)
    while data:
        data = data[os.write(fd, data):]
    os.fsync(fd)
    os.close(fd)
    strangers = set(os.listdir(directory)) - {os.path.basename(target), os.path.basename(temp)}
    if strangers:
        sys.exit(f"another run's files in my directory: {sorted(strangers)}")
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
