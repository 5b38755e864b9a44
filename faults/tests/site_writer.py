"""A careful atomic writer whose calls the call-site tests locate: each call
whose site a test checks carries a marker comment ("site: <name>") on its
line; the test finds the line by the marker, never by its number.
Usage: site_writer.py TARGET"""
import os
import sys
import tempfile


def save(path, data):
    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(dir=directory, suffix=".tmp")  # site: open
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())  # site: fsync file
    os.replace(temp, path)  # site: rename
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)  # site: fsync dir
    finally:
        os.close(dfd)


save(sys.argv[1], b"new content\n")
print("done")
