"""A writer that, on its first run only, creates MARKER outside the scratch
directory (a log or a cache made once), then replaces TARGET through a temp
file; when its write fails it exits 1 and leaves the temp behind (a
temp_clean defect); when a later call fails it removes the temp.
Usage: first_run_outside_file.py TARGET PAYLOAD MARKER.

Plain Python shows the defect: `strace -e trace=write -e
inject=write:error=EIO:when=1` on a run with MARKER present leaves
TARGET.tmp. The first run's calls on MARKER take call numbers (a file
created outside the scope is followed from its creation: faults/README.md),
later runs' do not, so every later run's calls are numbered off the first
run's: a case planned at the first run's call N hits another call."""
import os
import sys

target, payload, marker = sys.argv[1], sys.argv[2], sys.argv[3]
if not os.path.exists(marker):
    with open(marker, "w") as f:
        f.write("made by the first run\n")
with open(payload, "rb") as source:
    data = source.read()
temp = target + ".tmp"
fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
try:
    os.write(fd, data)
except OSError:
    os._exit(1)  # the defect: the temp stays
try:
    os.fsync(fd)
    os.close(fd)
    os.replace(temp, target)
except OSError:
    os.unlink(temp)  # any later failure cleans up
    sys.exit(1)
