"""The checker of the manifest_data scenarios (runner/README.md, "Directory
mode"): DIR is consistent when MANIFEST names a data file that holds exactly
the size and SHA-256 MANIFEST records. With CRASHCHECK_COMMITTED=1 the writer
had exited 0, so MANIFEST must also name the generation it published.

Usage: manifest_checker.py DIR COMMITTED_NAME
Exit 0: consistent; 1: not, with the reason on stderr.
"""
import hashlib
import os
import sys


def fail(reason):
    print(reason, file=sys.stderr)
    sys.exit(1)


def main():
    directory, committed_name = sys.argv[1], sys.argv[2]
    try:
        with open(os.path.join(directory, "MANIFEST")) as manifest:
            fields = manifest.read().split()
    except OSError as error:
        fail("MANIFEST cannot be read: %s" % error)
    if len(fields) != 3:
        fail("MANIFEST is not 'name size sha256': %r" % fields)
    name, size, digest = fields
    try:
        with open(os.path.join(directory, name), "rb") as source:
            data = source.read()
    except OSError as error:
        fail("MANIFEST names %s, which cannot be read: %s" % (name, error))
    if len(data) != int(size) or hashlib.sha256(data).hexdigest() != digest:
        fail("MANIFEST names %s with %s bytes, but it holds %d other bytes" % (name, size, len(data)))
    if os.environ.get("CRASHCHECK_COMMITTED") == "1" and name != committed_name:
        fail("the writer exited 0, but MANIFEST still names %s, not %s" % (name, committed_name))


if __name__ == "__main__":
    main()
