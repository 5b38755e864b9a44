"""Checker for new_generation.py: CURRENT names a directory G whose data
ends with "END\n"; once committed, G is gen2."""
import os
import sys

directory = sys.argv[1]
try:
    with open(os.path.join(directory, "CURRENT")) as current:
        generation = current.read().strip()
    with open(os.path.join(directory, generation, "data"), "rb") as data:
        complete = data.read().endswith(b"END\n")
except OSError as error:
    sys.exit("unreadable: %s" % error)
if not complete:
    sys.exit("%s/data is incomplete" % generation)
if os.environ.get("CRASHCHECK_COMMITTED") == "1" and generation != "gen2":
    sys.exit("committed, but CURRENT names %s" % generation)
