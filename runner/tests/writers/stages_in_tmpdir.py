"""Replaces TARGET with content it builds itself (no payload), staging the
temp in $TMPDIR (tempfile.mkstemp() with no dir, Python's default) on the
same file system as the target. Crash behaviour known from how the calls
work, not from crashcheck (ground truth: strace failing one write):

  checked    write all (retrying short writes), fsync, the old file's mode,
             close, os.replace, fsync the target's directory; any OSError:
             remove the temp, exit 1, the target untouched.    correct
  unchecked  the same, but an error of a write is swallowed: a failed
             write publishes a temp missing those bytes, and the writer
             exits 0.                                          defective

Usage: stages_in_tmpdir.py TARGET MODE."""
import json
import os
import sys
import tempfile

target, mode = sys.argv[1], sys.argv[2]
data = json.dumps({"status": "ok", "items": list(range(64))}, indent=2).encode() + b"\n"


def write_all(fd, payload):
    view = memoryview(payload)
    while view:
        try:
            view = view[os.write(fd, view):]
        except OSError:
            if mode == "checked":
                raise
            return  # the defect: the rest is silently dropped


def main():
    if mode not in ("checked", "unchecked"):
        sys.exit("usage: stages_in_tmpdir.py TARGET checked|unchecked")
    fd, temp = tempfile.mkstemp()
    try:
        write_all(fd, data)
        os.fsync(fd)
        os.fchmod(fd, os.stat(target).st_mode & 0o7777)
        os.close(fd)
        os.replace(temp, target)
    except OSError as error:
        try:
            os.unlink(temp)
        except OSError:
            pass
        sys.exit("stages_in_tmpdir: %s" % error)
    directory = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(directory)
    os.close(directory)


if __name__ == "__main__":
    main()
