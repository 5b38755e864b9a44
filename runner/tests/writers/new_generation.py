"""Publishes a new generation directory: mkdir DIR/gen2, gen2/data written
and fsynced, gen2 fsynced, then CURRENT rewritten in place to name gen2 and
fsynced.

Usage: new_generation.py DIR MODE. MODE "synced" also fsyncs DIR after the
mkdir (correct); "unsynced_parent" does not, so after a power loss the entry
gen2 can be gone while CURRENT, fsynced, already names it (the posix
profile's rule: a directory entry is durable once its directory is fsynced;
not measurable here without a power cut — the model's stated rule). Every
state a SIGKILL leaves passes generation_checker.py in both modes (no kill
can lose a directory entry).
"""
import os
import sys

directory, mode = sys.argv[1], sys.argv[2]


def fsync_directory(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(fd)
    os.close(fd)


def write_all(fd, data):
    while data:  # a short write (a full disk) is continued, and its error raised
        data = data[os.write(fd, data):]


generation = os.path.join(directory, "gen2")
os.mkdir(generation)
fd = os.open(os.path.join(generation, "data"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
write_all(fd, b"generation two END\n")
os.fsync(fd)
os.close(fd)
fsync_directory(generation)
if mode == "synced":
    fsync_directory(directory)
fd = os.open(os.path.join(directory, "CURRENT"), os.O_WRONLY)
write_all(fd, b"gen2\n")
os.fsync(fd)
os.close(fd)
