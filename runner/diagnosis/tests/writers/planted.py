"""A correct atomic writer with one defect planted on request.

Usage: planted.py DEFECT TARGET PAYLOAD
DEFECT is "none" (the correct writer), "none_cross_directory" (correct, with
its temp in a subdirectory: both directories fsynced) or a diagnosis rule id;
the writer then has exactly that defect and no other, so the diagnosis test
can check that this rule, and only it, is named. A few more defects are
other forms of a rule's mistake (see VARIANTS below).
"""
import os
import stat
import sys

defect, target, payload = sys.argv[1], sys.argv[2], sys.argv[3]
with open(payload, "rb") as source:
    data = source.read()
directory = os.path.dirname(target)
name = os.path.basename(target)


def fsync_directory(path):
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def write_all(fd):
    if defect == "check_write_result":
        try:
            os.write(fd, data)  # one write, result and errors ignored
        except OSError:
            pass
        return
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


# Other forms of a rule's mistake; the ground truth of each is a real SIGKILL
# (strace -f -e inject=CALL:signal=KILL:when=N /usr/bin/python3 planted.py …):
#   rename_target_away   rename #1 (the target to .bak) done, killed at rename #2: no target at all
#   unlink_then_link     killed at the link: no target at all
#   truncate_first       killed at the temp's rename: the target is empty
#   write_after_rename   killed at write #2 (after the rename): the target holds the first half (50 of 100 bytes)
#   fsync_without_flush  killed at write #1 (the flush at the end of the with, after the rename):
#                        the target is empty
VARIANTS = ("rename_target_away", "unlink_then_link", "truncate_first", "write_after_rename", "fsync_without_flush")


def in_place():
    fd = os.open(target, os.O_WRONLY | os.O_TRUNC)
    write_all(fd)
    os.fsync(fd)
    os.close(fd)


def temp_directory():
    if defect == "temp_in_same_directory":
        return os.environ["TMPDIR"]
    if defect in ("fsync_dir_of_temp_and_target", "none_cross_directory"):
        staging = os.path.join(directory, "staging")
        os.mkdir(staging)
        return staging
    return directory


def remove_staging(tmp_dir):
    if tmp_dir != directory and os.path.isdir(tmp_dir) and not os.listdir(tmp_dir):
        os.rmdir(tmp_dir)


def publish_buffered(tmp):
    """Python's classic slip: os.fsync on a buffered file that was never
    flushed, so the bytes reach the temp at the end of the with, after the rename."""
    with open(tmp, "xb") as f:
        f.write(data)
        os.fchmod(f.fileno(), stat.S_IMODE(os.stat(target).st_mode))
        os.fsync(f.fileno())
        os.rename(tmp, target)


def publish_in_two_halves(tmp, fd):
    """Half the content, the rename, then the rest through the same descriptor."""
    half = len(data) // 2
    view = memoryview(data)[:half]
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)
    os.rename(tmp, target)
    view = memoryview(data)[half:]
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)
    os.close(fd)


def put_in_place(tmp):
    if defect == "no_unlink_before_rename":
        os.unlink(target)
    if defect == "rename_target_away":
        os.rename(target, target + ".bak")
        try:
            os.rename(tmp, target)
        except BaseException:
            os.rename(target + ".bak", target)  # the old file back, so a reported failure leaves nothing
            raise
        try:
            os.unlink(target + ".bak")  # the backup only guarded the swap
        except OSError:
            pass
    elif defect == "unlink_then_link":
        os.unlink(target)
        os.link(tmp, target)
        os.unlink(tmp)
    else:
        os.rename(tmp, target)


def publish(tmp_dir):
    old_mode = stat.S_IMODE(os.stat(target).st_mode)
    tmp = os.path.join(tmp_dir, "." + name + ".tmp")
    try:
        if defect == "fsync_without_flush":
            return publish_buffered(tmp)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        if defect == "write_after_rename":
            os.fchmod(fd, old_mode)
            return publish_in_two_halves(tmp, fd)
        write_all(fd)
        if defect != "preserve_mode":
            os.fchmod(fd, old_mode)
        if defect == "check_fsync_result":
            try:
                os.fsync(fd)
            except OSError:
                pass
        elif defect != "fsync_file_before_rename":
            os.fsync(fd)
        if defect == "check_close_result":
            try:
                os.close(fd)
            except OSError:
                pass
        else:
            os.close(fd)
        put_in_place(tmp)
    except BaseException:
        if defect != "remove_temp_on_error" and os.path.exists(tmp):
            os.unlink(tmp)
        raise


def replace():
    tmp_dir = temp_directory()
    try:
        publish(tmp_dir)
        # the planted cross-directory writer fsyncs neither directory
        if defect not in ("fsync_dir_after_rename", "fsync_dir_of_temp_and_target"):
            if tmp_dir != directory:
                fsync_directory(tmp_dir)  # the directory the temp left
            fsync_directory(directory)
    except BaseException:
        if defect != "remove_temp_on_error":
            remove_staging(tmp_dir)
        raise


if defect == "write_temp_then_rename":
    in_place()
elif defect == "truncate_first":
    open(target, "w").close()  # "reserve" the target, then replace it atomically
    replace()
else:
    replace()
