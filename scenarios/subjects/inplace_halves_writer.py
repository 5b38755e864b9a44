"""Rewrites TARGET in place (no temp, no truncation) with PAYLOAD in two
halves: between them a reader finds half new, half old. Two instances at once
can end whole (the last one finishes) while a reader in between saw a mix.
With CRASHCHECK_TEST_GATE=FIFO it stops after the first half until a byte
arrives there (the ground-truth test holds it, reads, lets it go).
Usage: inplace_halves_writer.py TARGET PAYLOAD"""
import os
import sys

target, payload = sys.argv[1], sys.argv[2]
data = open(payload, "rb").read()
half = len(data) // 2
fd = os.open(target, os.O_WRONLY)
os.pwrite(fd, data[:half], 0)
gate = os.environ.get("CRASHCHECK_TEST_GATE")
if gate:
    with open(gate, "rb") as g:
        g.read(1)
os.pwrite(fd, data[half:], half)
os.fsync(fd)
os.close(fd)
