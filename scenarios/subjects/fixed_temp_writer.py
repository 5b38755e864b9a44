"""A writer with a fixed temporary name, and its correct twin.

Usage: fixed_temp_writer.py fixed|unique|read-unique TARGET PAYLOAD

Both write PAYLOAD to a temporary file in TARGET's directory in two halves
(as a serialiser streaming to an unbuffered file does), fsync it and rename
it over TARGET. `fixed` names the temp TARGET + ".tmp" and opens it with
O_TRUNC, as many libraries do: two instances running at once truncate and
write each other's temp, and one renames a mix of both into place. `unique`
makes the temp with mkstemp, so each instance has its own. `read-unique` is
`unique` after reading TARGET first, as a read-modify-write does, with no
lock (the diagnosis lock_read_modify_write names it).

CRASHCHECK_TEST_GATE=FIFO (tests only, runner/tests/concurrent_ground_truth.py):
after the first half the writer reads one byte from FIFO, so a test can let
another instance run in between without a debugger.
"""
import os
import sys
import tempfile


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main():
    mode, target, payload = sys.argv[1:4]
    with open(payload, "rb") as source:
        data = source.read()
    if mode == "read-unique" and os.path.exists(target):
        with open(target, "rb") as current:
            current.read()  # the "modify" step would start from this
    if mode == "fixed":
        temp = target + ".tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    else:
        fd, temp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(target)), suffix=".tmp")
        os.fchmod(fd, 0o644)
    half = len(data) // 2
    write_all(fd, data[:half])
    gate = os.environ.get("CRASHCHECK_TEST_GATE")
    if gate:
        with open(gate, "rb") as fifo:
            fifo.read(1)
    write_all(fd, data[half:])
    os.fsync(fd)
    os.close(fd)
    os.replace(temp, target)


if __name__ == "__main__":
    main()
