"""Replaces a file with a temp + rename, but swallows an fsync failure and
still exits 0 -- the "fsyncgate" pattern: after a failed fsync the data may
never reach the disk, yet the caller is told it did.
Usage: ignores_fsync_error.py TARGET PAYLOAD [--check | --retry | --rewrite-retry | --retry-mmap]
  --check       the twin that fails loudly
  --retry       calls fsync again after a failed one and believes the retry
                (issue 11 F6): Linux marked the failed pages clean, so the
                retry succeeds without writing them -- as wrong as ignoring
  --rewrite-retry  the correct retry: after a failed fsync, write the whole
                content again (ftruncate to 0, write) and fsync that
  --retry-mmap  after a failed fsync, start the temp over (ftruncate to 0,
                then to the payload's length) and store the payload through
                a shared mapping, msync(MS_SYNC); other failures surface as
                with --check: correct, but the preload
                agent cannot see those stores, so that case's trace does not
                explain it"""
import mmap
import os
import sys
import tempfile

target, payload = sys.argv[1], sys.argv[2]
check = "--check" in sys.argv[3:]
retry = "--retry" in sys.argv[3:]
rewrite_retry = "--rewrite-retry" in sys.argv[3:]
retry_mmap = "--retry-mmap" in sys.argv[3:]
directory = os.path.dirname(target)
data = open(payload, "rb").read()
fd, temp = tempfile.mkstemp(dir=directory)
try:
    os.write(fd, data)
    try:
        os.fsync(fd)
    except OSError:
        if retry:
            os.fsync(fd)
        elif rewrite_retry:
            os.ftruncate(fd, 0)
            if os.pwrite(fd, data, 0) != len(data):
                raise OSError("short write")
            os.fsync(fd)
        elif not retry_mmap:
            if check:
                raise
        else:
            os.ftruncate(fd, 0)
            os.ftruncate(fd, len(data))
            with mmap.mmap(fd, len(data), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as mapped:
                mapped[:] = data
                mapped.flush()
    os.close(fd)
    os.replace(temp, target)
except BaseException:
    if os.path.exists(temp):
        os.unlink(temp)
    raise
dir_fd = os.open(directory, os.O_RDONLY)
try:
    os.fsync(dir_fd)
except OSError:
    if check or retry_mmap or rewrite_retry:
        raise
os.close(dir_fd)
