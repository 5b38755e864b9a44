#!/bin/sh
# The checker of the sqlite_* scenarios (runner/README.md, "Directory mode").
# DIR is consistent when app.db opens (SQLite recovers a hot journal or a WAL
# itself, in this throw-away copy), PRAGMA integrity_check says ok, the 50
# rows of batch 1 are all there and batch 2 is all (20 rows) or nothing. With
# CRASHCHECK_COMMITTED=1 the writer had exited 0: batch 2 must be there.
# The sqlite3 shell, not Python: a state is checked in ~15 ms, not ~100.
#
# Usage: sqlite_checker.sh DIR      Exit 0: consistent; 1: not, why on stderr.
db="$1/app.db"
[ -f "$db" ] || { echo "app.db is missing" >&2; exit 1; }
out=$(sqlite3 -batch "$db" "PRAGMA integrity_check; SELECT COUNT(*) FROM rows WHERE batch = 1;
                           SELECT COUNT(*) FROM rows WHERE batch = 2;" 2>&1) ||
  { echo "app.db cannot be read: $out" >&2; exit 1; }
set -- $out
[ "$#" -eq 3 ] && [ "$1" = ok ] || { echo "integrity_check: $out" >&2; exit 1; }
[ "$2" -eq 50 ] || { echo "batch 1 has $2 rows, not 50" >&2; exit 1; }
[ "$3" -eq 0 ] || [ "$3" -eq 20 ] || { echo "batch 2 is torn: $3 of 20 rows" >&2; exit 1; }
if [ "$CRASHCHECK_COMMITTED" = 1 ] && [ "$3" -ne 20 ]; then
  echo "the writer exited 0, but batch 2 is not there" >&2
  exit 1
fi
exit 0
