"""A correct atomic writer with one defect planted on request.

Usage: planted.py DEFECT TARGET PAYLOAD
DEFECT is "none" (the correct writer), "none_cross_directory" (correct, with
its temp in a subdirectory: both directories fsynced) or a diagnosis rule id;
the writer then has exactly that defect and no other, so the diagnosis test
can check that this rule, and only it, is named.
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


def publish(tmp_dir):
    old_mode = stat.S_IMODE(os.stat(target).st_mode)
    tmp = os.path.join(tmp_dir, "." + name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
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
        if defect == "no_unlink_before_rename":
            os.unlink(target)
        os.rename(tmp, target)
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
else:
    replace()
