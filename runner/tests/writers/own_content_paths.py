"""Writers that build their own content (a timestamp: no payload could name
it) and take a path the plain atomic writer does not: an error handler, a
kernel copy, pwrites whose results go unchecked, a writer whose later runs
differ from its first. Each defect has a twin without it.
Usage: own_content_paths.py TARGET MODE [STATE_FILE]
  wipe-on-error    temp + fsync + rename; on any OSError it empties the target
                   and re-raises (the old content is gone, the new never came)
  raise-on-error   the twin: re-raises and leaves the target alone
  empty-on-error   wipe-on-error, but the handler swallows the error and
                   exits 0: success claimed, the target emptied
  two-writes       temp written in two checked os.write calls (Python
                   retries an interrupted one, PEP 475), fsync, rename,
                   directory fsync: correct
  copy             builds the content in a file beside the target, copies it
                   into the temp with shutil.copyfile (sendfile), fsyncs,
                   renames, fsyncs the directory: correct
  copy-in-place    the twin with the defect: copies straight onto the target
  pwrite-unchecked temp written by two pwrites, second half first, their
                   results ignored; then fsync + rename + directory fsync
  pwrite-checked   the twin: a short pwrite raises
  append-later     temp + fsync + rename; every run after the first then
                   appends a trailer in place in two writes (STATE_FILE, an
                   existing file outside the scratch directory, counts runs)
  append-never     the twin: never appends
  number-in-place  truncates the target and writes a long JSON number in two
                   writes, its last digit last
  number-atomic    the twin: the same two writes into a temp, then a rename"""
import os
import shutil
import sys
import time

target, mode = sys.argv[1], sys.argv[2]
directory = os.path.dirname(os.path.abspath(target))
temp = target + ".tmp"
content = b'{"written_at": %d, "padding": "%s"}\n' % (time.time_ns(), b"x" * 40)


def sync_directory():
    fd = os.open(directory, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def write_all(fd, data):
    done = os.write(fd, data)
    if done != len(data):
        raise OSError("short write: %d of %d bytes" % (done, len(data)))


def write_temp_and_rename(data):
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    write_all(fd, data)
    os.fsync(fd)
    os.close(fd)
    os.replace(temp, target)


def atomic_with_handler(wipe):
    try:
        write_temp_and_rename(content)
        sync_directory()
    except OSError:
        if wipe:
            open(target, "w").close()
        raise


def empty_on_error():
    try:
        write_temp_and_rename(content)
        sync_directory()
    except OSError:
        open(target, "w").close()


def two_writes():
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    half = len(content) // 2
    write_all(fd, content[:half])
    write_all(fd, content[half:])
    os.fsync(fd)
    os.close(fd)
    os.replace(temp, target)
    sync_directory()


def copy(in_place):
    source = os.path.join(directory, "content.src")
    with open(source, "wb") as f:
        f.write(content)
    try:
        shutil.copyfile(source, target if in_place else temp)
    finally:
        os.unlink(source)
    if in_place:
        return
    fd = os.open(temp, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    os.replace(temp, target)
    sync_directory()


def halves_by_pwrite(checked):
    half = len(content) // 2
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    for offset, part in ((half, content[half:]), (0, content[:half])):
        done = os.pwrite(fd, part, offset)
        if checked and done != len(part):
            raise OSError("short pwrite: %d of %d bytes" % (done, len(part)))
    os.fsync(fd)
    os.close(fd)
    os.replace(temp, target)
    sync_directory()


def append_later(appends):
    with open(sys.argv[3], "r+") as runs:  # never created here: every run makes the same calls up to the rename
        later = len(runs.read()) > 0
        runs.write("x")
    write_temp_and_rename(content)
    if appends and later:
        fd = os.open(target, os.O_WRONLY | os.O_APPEND)
        os.write(fd, b"trailer part 1\n")
        os.write(fd, b"trailer part 2\n")
        os.fsync(fd)
        os.close(fd)
    sync_directory()


def long_number(in_place):
    digits = b"0.12345678901234567891"  # its last digit does not change the double
    fd = os.open(target if in_place else temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, digits[:-1])
    os.write(fd, digits[-1:])
    os.fsync(fd)
    os.close(fd)
    if not in_place:
        os.replace(temp, target)
    sync_directory()


modes = {
    "wipe-on-error": lambda: atomic_with_handler(True),
    "raise-on-error": lambda: atomic_with_handler(False),
    "empty-on-error": empty_on_error,
    "two-writes": two_writes,
    "copy": lambda: copy(False),
    "copy-in-place": lambda: copy(True),
    "pwrite-unchecked": lambda: halves_by_pwrite(False),
    "pwrite-checked": lambda: halves_by_pwrite(True),
    "append-later": lambda: append_later(True),
    "append-never": lambda: append_later(False),
    "number-in-place": lambda: long_number(True),
    "number-atomic": lambda: long_number(False),
}
modes[mode]()
