"""Creates a target that did not exist, writing it in place in two checked
writes (issue 13 N8). On a write error it reports failure (exit 1); the
defective form leaves the file it created behind, empty or half written,
where there was none, and the correct twin removes it first.
Usage: creates_target.py TARGET [--remove-on-error]
Content: a JSON document with a timestamp (no payload: each run's own).
"""
import json
import os
import sys
import time

target = sys.argv[1]
remove = "--remove-on-error" in sys.argv[2:]
data = json.dumps({"written_at": time.time_ns(), "rows": list(range(200))}).encode()
fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
try:
    half = len(data) // 2
    for piece in (data[:half], data[half:]):
        if os.write(fd, piece) != len(piece):
            raise OSError("short write")
    os.fsync(fd)
except OSError as error:
    os.close(fd)
    if remove:
        os.unlink(target)
    sys.exit(f"not written: {error}")
os.close(fd)
