"""An in-place rewriter that names its target through /proc/self/cwd.

Usage: through_proc_cwd.py TARGET PAYLOAD. It reads the target by its plain
name first (a call every backend sees), then truncates it and writes the
payload in two writes through /proc/self/cwd/TARGET, which the preload
backend cannot attribute to the scratch directory (lexical scope). Truth:
strace -f -e inject=write:signal=KILL:when=2 /usr/bin/python3 through_proc_cwd.py t p
leaves the target holding the payload's first 4 bytes: not crash-atomic.
"""
import os
import sys

target, payload = sys.argv[1], sys.argv[2]
with open(payload, "rb") as source:
    data = source.read()
with open(target, "rb") as old:
    old.read()
fd = os.open("/proc/self/cwd/" + os.path.basename(target), os.O_WRONLY | os.O_TRUNC)
os.write(fd, data[:4])
os.write(fd, data[4:])
os.fsync(fd)
os.close(fd)
