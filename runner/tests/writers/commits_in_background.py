"""A writer whose rename (the commit) is made by a child it forks after its
first file call: usage commits_in_background.py TARGET PAYLOAD early|wait.
It writes a temp file beside TARGET and fsyncs it, then forks; the child
waits for end-of-file on a pipe the writer holds (no sleep), renames the temp
over TARGET and fsyncs the directory. "early": the writer exits 0 at once,
so the child commits after it; "wait": it waits for the child first.

A case run from the start waits for what its subject leaves running (until
the case timeout), so the commit is part of the case's end state; a forked
case must not cut it short (runner/src/campaign/forked.hpp: such a case runs
from the start again)."""
import os
import sys

target, payload, mode = sys.argv[1], sys.argv[2], sys.argv[3]
directory = os.path.dirname(target)
temp = target + ".tmp"
fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
with open(payload, "rb") as source:
    data = memoryview(source.read())
while data:
    data = data[os.write(fd, data):]
os.fsync(fd)
os.close(fd)
read_end, write_end = os.pipe()
child = os.fork()
if child == 0:
    os.close(write_end)
    os.read(read_end, 1)  # end of file: the writer has exited (early) or closed it (wait)
    os.rename(temp, target)
    dir_fd = os.open(directory, os.O_RDONLY)
    os.fsync(dir_fd)
    os.close(dir_fd)
    os._exit(0)
os.close(read_end)
if mode == "wait":
    os.close(write_end)
    os.waitpid(child, 0)
