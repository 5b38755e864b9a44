"""Writes JSON to a temp file and renames it over the target without any
fsync: it exits 0, but a power loss can leave an empty or torn target, which
a JSON validator rejects. Usage: renames_unsynced_json.py TARGET PAYLOAD [--sync]
(--sync: the twin that fsyncs the file before and the directory after the rename)"""
import os
import sys

target, payload = sys.argv[1], sys.argv[2]
sync = "--sync" in sys.argv[3:]
temp = target + ".tmp"
with open(temp, "wb") as f:
    f.write(open(payload, "rb").read())
    f.flush()
    if sync:
        os.fsync(f.fileno())
os.replace(temp, target)
if sync:
    dir_fd = os.open(os.path.dirname(target), os.O_RDONLY)
    os.fsync(dir_fd)
    os.close(dir_fd)
