"""A writer that replaces TARGET atomically the first time it runs, and every
later time only makes its temp file, removes it and exits 0: usage
changes_after_baseline.py TARGET PAYLOAD MARKER (MARKER: a file outside the
scratch directory that says a run has happened).

Its later runs never reach the calls the first one made after that, so a
kill or errno case planned at them (from the first run's trace) sees no
crash and no error there: plain Python says so (run it twice and compare
`strace -f -e trace=%file` of the two runs). crashcheck must not judge the
states those runs leave as crashes or errors at calls they never made."""
import os
import sys

target, payload, marker = sys.argv[1], sys.argv[2], sys.argv[3]
temp = target + ".tmp"
fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
if os.path.exists(marker):
    os.close(fd)
    os.unlink(temp)
    sys.exit(0)
open(marker, "w").close()
with open(payload, "rb") as source:
    data = memoryview(source.read())
while data:
    data = data[os.write(fd, data):]
os.fsync(fd)
os.close(fd)
os.replace(temp, target)
dir_fd = os.open(os.path.dirname(target), os.O_RDONLY)
os.fsync(dir_fd)
os.close(dir_fd)
