"""Ground truth for directory-mode reader states inside a write, without
crashcheck: a real reader racing a real writer. A child process rewrites
DIR/data.bin (64 KiB of one letter) over and over, alternating 'o' and 'n',
the way one_big_write.py MODE does it once:

  in-place     one pwrite(2) of 64 KiB over the existing file. Linux copies
               it page by page, without a lock a reader's read(2) waits
               for: a reader can find old and new pages at once.  defective
  temp-rename  a temp beside it, one write, rename over data.bin (no fsync:
               a running reader is not affected by durability). A reader
               opens either the old inode or the new one, each whole.
                                                                   correct twin

Meanwhile this process opens and reads data.bin whole, READS times at most,
and stops at the first read that is not one generation. Prints
"reads R torn T". The counts are loops, not time: nothing sleeps.

Usage: racing_reader.py MODE DIR READS."""
import os
import signal
import sys

mode, directory, reads = sys.argv[1], sys.argv[2], int(sys.argv[3])
target = os.path.join(directory, "data.bin")
size = 65536
generations = [b"o" * size, b"n" * size]


def rewrite_forever():
    i = 0
    fd = os.open(target, os.O_WRONLY) if mode == "in-place" else -1
    while True:
        data = generations[i & 1]
        if mode == "in-place":
            os.pwrite(fd, data, 0)
        else:
            temp = target + ".tmp"
            t = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(t, data)
            os.close(t)
            os.rename(temp, target)
        i += 1


def main():
    if mode not in ("in-place", "temp-rename"):
        sys.exit("usage: racing_reader.py in-place|temp-rename DIR READS")
    with open(target, "wb") as f:
        f.write(generations[0])
    child = os.fork()
    if child == 0:
        try:
            rewrite_forever()
        finally:
            os._exit(1)
    done = torn = 0
    try:
        while done < reads and torn == 0:
            with open(target, "rb") as f:
                data = f.read()
            done += 1
            torn += len(data) != size or len(set(data)) != 1
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    print("reads %d torn %d" % (done, torn))


if __name__ == "__main__":
    main()
