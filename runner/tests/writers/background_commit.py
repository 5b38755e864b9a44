"""A manifest + data writer whose commit (the rename of MANIFEST.tmp over
MANIFEST, then a directory fsync) is made by a child process.

Usage: background_commit.py DIR PAYLOAD early|wait. The data file and
MANIFEST.tmp are written and fsynced first. "early": the writer exits 0 at
once and the child commits after that (it waits for EOF on a pipe the writer
holds: no sleep), so success is reported before the commit point. "wait":
the writer lets the child commit and waits for it before exiting 0
(correct). Truth without crashcheck: run "early", wait for the writer's own
pid only, and MANIFEST still names data-1.bin although it exited 0; a real
SIGKILL at the child's rename (strace -f -e inject=rename:signal=KILL:when=1)
leaves it so for good, and the checker with CRASHCHECK_COMMITTED=1 rejects
that. With "wait" the writer's exit comes after the rename.
"""
import hashlib
import os
import sys


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def write_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)
    os.close(fd)


directory, payload, mode = sys.argv[1], sys.argv[2], sys.argv[3]
with open(payload, "rb") as source:
    data = source.read()
temp = os.path.join(directory, "MANIFEST.tmp")
write_file(os.path.join(directory, "data-2.bin"), data)
write_file(temp, ("data-2.bin %d %s\n" % (len(data), hashlib.sha256(data).hexdigest())).encode())
fsync_dir(directory)
parent_gone, parent_alive = os.pipe()
child = os.fork()
if child == 0:
    os.close(parent_alive)
    os.read(parent_gone, 1)  # EOF: the writer closed its end (exited, or is waiting for us)
    os.rename(temp, os.path.join(directory, "MANIFEST"))
    fsync_dir(directory)
    os._exit(0)
os.close(parent_gone)
if mode == "wait":
    os.close(parent_alive)
    os.waitpid(child, 0)
os._exit(0)
