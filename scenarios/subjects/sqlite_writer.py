"""A SQLite writer for the directory-mode scenarios: one transaction that
inserts 20 rows (batch 2) into app.db, which starts with 50 rows (batch 1).

Usage: sqlite_writer.py DIR JOURNAL_MODE SYNCHRONOUS
  e.g. sqlite_writer.py DIR DELETE FULL   (rollback journal, fsync at commit)
       sqlite_writer.py DIR WAL FULL      (write-ahead log, fsync at commit)
       sqlite_writer.py DIR WAL OFF       (write-ahead log, no fsync at all)
"""
import os
import sqlite3
import sys

ROWS = 20


def main():
    directory, journal_mode, synchronous = sys.argv[1], sys.argv[2], sys.argv[3]
    con = sqlite3.connect(os.path.join(directory, "app.db"), isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=%s" % journal_mode)
        con.execute("PRAGMA synchronous=%s" % synchronous)
        con.execute("BEGIN")
        con.executemany("INSERT INTO rows (batch, value) VALUES (2, ?)",
                        (("row %d " % i + "x" * 40,) for i in range(ROWS)))
        con.execute("COMMIT")
    except sqlite3.Error as error:
        print("sqlite_writer: %s" % error, file=sys.stderr)
        return 1
    finally:
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
