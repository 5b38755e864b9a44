"""Rewrites a file in place without O_TRUNC, the idiom of Python's
`f.seek(0); f.write(new); f.truncate()`: the new content is written at
offset 0, then the old, longer tail is cut off with ftruncate, then fsync.
Usage: cuts_in_place.py TARGET [PAYLOAD] MODE
  PAYLOAD  the new content (without it, a new JSON document each run)
  ignore   a failed ftruncate is ignored and the writer exits 0: the target
           holds the new content followed by the old tail (issue 13 N1c)
  restore  the twin: a failed ftruncate puts the old content back, fsyncs
           it and exits 1
  chmod-ignore / chmod-check  the same file rewritten through a temp file,
           renamed over it, whose fchmod to the old file's mode is ignored
           when it fails / makes the writer remove the temp and exit 1
"""
import json
import os
import sys
import time

target, mode = sys.argv[1], sys.argv[-1]
if len(sys.argv) > 3:
    data = open(sys.argv[2], "rb").read()
else:
    data = (json.dumps({"ts": time.time_ns()}) + "\n").encode()


def write_all(fd, b, at):
    view = memoryview(b)
    while view:
        n = os.pwrite(fd, view, at)
        view, at = view[n:], at + n


if mode in ("ignore", "restore"):
    old = open(target, "rb").read()
    fd = os.open(target, os.O_RDWR)
    write_all(fd, data, 0)
    try:
        os.ftruncate(fd, len(data))
    except OSError:
        if mode == "restore":
            write_all(fd, old, 0)
            os.fsync(fd)
            sys.exit(1)
    os.fsync(fd)
    os.close(fd)
elif mode in ("chmod-ignore", "chmod-check"):
    temp = target + ".tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, data, 0)
        try:
            os.fchmod(fd, os.stat(target).st_mode & 0o7777)
        except OSError:
            if mode == "chmod-check":
                raise
        os.fsync(fd)
        os.close(fd)
        os.replace(temp, target)
    except BaseException:
        os.unlink(temp)
        raise
    dir_fd = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
    os.fsync(dir_fd)
    os.close(dir_fd)
else:
    sys.exit("unknown mode " + mode)
