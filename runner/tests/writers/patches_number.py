"""Replaces a JSON document whose only change is inside one big number
(issue 13 N5). Old and new have the same length; the in-place mode patches
the differing digits with two pwrites, so a crash between them leaves a
third number that no double tells apart from the other two, but every
reader that keeps integers exactly (Python's json, Go's json.Number, Java's
BigDecimal) does.
Usage: patches_number.py TARGET PAYLOAD MODE
  in-place        two pwrites over the target, then fsync
  kill-in-place   the same, but SIGKILLs itself between the two pwrites (ground truth)
  temp            the correct twin: temp + fsync + rename + directory fsync
"""
import os
import signal
import sys

target, payload, mode = sys.argv[1], sys.argv[2], sys.argv[3]
new = open(payload, "rb").read()
if mode == "temp":
    temp = target + ".tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    if os.write(fd, new) != len(new):
        sys.exit("short write")
    os.fsync(fd)
    os.close(fd)
    os.rename(temp, target)
    dfd = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
    sys.exit(0)
old = open(target, "rb").read()
if len(old) != len(new):
    sys.exit("old and new differ in length")
first = next(i for i in range(len(new)) if old[i] != new[i])
last = max(i for i in range(len(new)) if old[i] != new[i]) + 1
middle = (first + last) // 2 if last - first > 1 else last
fd = os.open(target, os.O_WRONLY)
os.pwrite(fd, new[first:middle], first)
if mode == "kill-in-place":
    os.kill(os.getpid(), signal.SIGKILL)
os.pwrite(fd, new[middle:last], middle)
os.fsync(fd)
os.close(fd)
