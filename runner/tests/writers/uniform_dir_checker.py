"""The checker of the directory-mode kill-within tests (directory_test.cpp):
DIR is consistent when DIR/data.bin holds 64 KiB of one letter — the old
generation ('o' throughout) or the new one ('n' throughout), never a mix.
With CRASHCHECK_COMMITTED=1 the writer had exited 0: it must be the new one.

Usage: uniform_dir_checker.py DIR. Exit 0: consistent; 1: not, and why on stderr.
"""
import os
import sys


def main():
    with open(os.path.join(sys.argv[1], "data.bin"), "rb") as f:
        data = f.read()
    letters = sorted(set(data))
    if len(data) != 65536 or len(letters) != 1:
        print("data.bin: %d bytes of %r: not one generation" % (len(data), bytes(letters)), file=sys.stderr)
        return 1
    if os.environ.get("CRASHCHECK_COMMITTED") == "1" and letters != [ord("n")]:
        print("the writer exited 0, but data.bin is not the new generation", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
