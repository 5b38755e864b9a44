"""Keeps a backup of the old file on every run, named by the time
(TARGET.bak-<ns>), then replaces the target atomically: temp in the same
directory, fsync, rename, directory fsync (issue 13 N9). The backup is the
writer's by design; only the temp must go on a failure.
Usage: keeps_backup.py TARGET PAYLOAD [--keep-temp-on-error] [--by-pid]
  --keep-temp-on-error  the defective twin: exits 1 on an error and leaves
                        its temp behind
  --by-pid              the backup is TARGET.<ns> and the temp TARGET.<pid>:
                        one name shape, digits aside
"""
import os
import sys
import time

target, payload = sys.argv[1], sys.argv[2]
keep_temp = "--keep-temp-on-error" in sys.argv[3:]
by_pid = "--by-pid" in sys.argv[3:]
data = open(payload, "rb").read()
os.link(target, f"{target}.{time.time_ns()}" if by_pid else f"{target}.bak-{time.time_ns()}")
temp = f"{target}.{os.getpid()}" if by_pid else target + ".tmp"
fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    if os.write(fd, data) != len(data):
        raise OSError("short write")
    os.fsync(fd)
    os.close(fd)
    fd = -1
    os.rename(temp, target)
except OSError as error:
    if fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass  # a failed close still frees the descriptor (close(2))
    if not keep_temp and os.path.exists(temp):
        os.unlink(temp)
    sys.exit(f"not written: {error}")
dfd = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY | os.O_DIRECTORY)
os.fsync(dfd)
os.close(dfd)
