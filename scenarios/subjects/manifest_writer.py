"""A manifest + data writer: publishes generation N+1 of a data set by writing
data-<N+1>.bin, then atomically replacing MANIFEST (one line: the data file's
name, size and SHA-256) so that it names the new file.

Usage: manifest_writer.py DIR PAYLOAD ordered|unordered

  ordered    the data file and its directory entry are made durable (fsync of
             the file, then of the directory) before MANIFEST names it: correct.
  unordered  the planted ordering defect: the data file is never fsynced, so a
             power loss can keep the new MANIFEST (synced, renamed, directory
             synced) while the data file it names lost its bytes.

On an error before MANIFEST is renamed in, the new names are removed (the old
generation stays whole and nothing is left behind); after it, they stay.
"""
import hashlib
import os
import sys


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path, data, sync):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def main():
    directory, payload, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    ordered = mode == "ordered"
    with open(payload, "rb") as source:
        data = source.read()
    with open(os.path.join(directory, "MANIFEST")) as manifest:
        current = manifest.read().split()[0]  # data-N.bin
    generation = int(current[len("data-"):-len(".bin")]) + 1
    name = "data-%d.bin" % generation
    line = "%s %d %s\n" % (name, len(data), hashlib.sha256(data).hexdigest())
    data_path = os.path.join(directory, name)
    temp_path = os.path.join(directory, "MANIFEST.tmp")
    published = False
    try:
        write_file(data_path, data, sync=ordered)
        if ordered:
            fsync_dir(directory)  # the data file's name, before anything names it
        write_file(temp_path, line.encode(), sync=True)
        os.rename(temp_path, os.path.join(directory, "MANIFEST"))
        published = True
        fsync_dir(directory)
    except OSError as error:
        if not published:
            for leftover in (temp_path, data_path):
                try:
                    os.unlink(leftover)
                except OSError:
                    pass
        print("manifest_writer: %s" % error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
