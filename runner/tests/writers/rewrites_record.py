"""Rewrites a record file in place with one checked pwrite at offset 0,
then fsyncs (issue 13 N12). A full disk cannot fail a write that only
overwrites bytes the file already holds; it can fail one that grows it.
Usage: rewrites_record.py TARGET PAYLOAD
  PAYLOAD as long as the target: an overwrite (needs no new space);
  longer: the write grows the file (and can come up short on a full disk).
Exits 1 when the write fails or comes up short.
"""
import os
import sys

target, payload = sys.argv[1], sys.argv[2]
new = open(payload, "rb").read()
fd = os.open(target, os.O_WRONLY)
try:
    if os.pwrite(fd, new, 0) != len(new):
        raise OSError("short write")
    os.fsync(fd)
except OSError as error:
    sys.exit(f"not written: {error}")
finally:
    os.close(fd)
