"""Replaces TARGET with the bytes of PAYLOAD in ONE step (e.g. 1 MiB), one of
nine ways; crash behaviour known from how Linux works, not from crashcheck:

  in-place       open the existing target without O_TRUNC, one os.write
                 (one write(2)) over it. Linux copies a write page by page
                 and takes a fatal signal between pages
                 (generic_perform_write): a SIGKILL or a reader inside the
                 write finds a mix of old and new pages.             defective
  temp-rename    a temp beside the target, one write, fsync, rename over the
                 target, fsync the directory: the target is only ever the
                 old file or the new one.                            correct twin
  in-place-mmap  map the existing target MAP_SHARED (as long as the payload),
                 one slice assignment (a memcpy, front to back), msync
                 (mmap.flush is MS_SYNC). The stores land in the shared page
                 cache as they are made: a reader, a kill or a power loss
                 before the msync finds pages old and new.           defective
  in-place-mmap-fsync  in-place-mmap, but fsync(2) while mapped instead
                 of msync: the stores are torn until that fsync.   defective
  in-place-mmap-rewritten  in-place-mmap, then the same bytes once more
                 with one pwrite at offset 0: the end state is what that
                 write says, but a kill or reader before it found the
                 stores made through the mapping (half done while the
                 memcpy ran).                                        defective
  temp-mmap      temp-rename, the temp sized with ftruncate and filled
                 through a mapping, msync'd before its fsync.         correct twin
  temp-mmap-fsync      temp-mmap without msync: fsync(2) while the temp is
                 still mapped (it writes back pages dirtied through a
                 mapping), then munmap, rename, directory fsync.      correct
  temp-mmap-late-fsync the same, but the fsync comes before the stores, so
                 nothing makes them durable before the rename.    defective
  temp-splice    temp-rename, the temp filled by splice(2) from a pipe the
                 payload was written into (no write(2) reaches the file;
                 payloads up to the pipe's 64 KiB).                  correct

Usage: one_big_write.py MODE TARGET PAYLOAD. Exits 0 only when every call
succeeded and the one write took the whole payload."""
import mmap
import os
import sys

mode, target, payload = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(payload, "rb").read()
directory = os.path.dirname(os.path.abspath(target))


def write_once(fd):
    if os.write(fd, data) != len(data):
        sys.exit("one_big_write: the write was short")


def fill_mapped(fd):
    if os.fstat(fd).st_size != len(data):
        os.ftruncate(fd, len(data))
    with mmap.mmap(fd, len(data), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as mapped:
        mapped[:] = data
        mapped.flush()


def fill_mapped_syncing(fd, before):
    os.ftruncate(fd, len(data))
    with mmap.mmap(fd, len(data), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as mapped:
        if before:
            os.fsync(fd)
        mapped[:] = data
        if not before:
            os.fsync(fd)


def fill_spliced(fd):
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    done = 0
    while done < len(data):
        moved = os.splice(read_end, fd, len(data) - done)
        if moved == 0:
            sys.exit("one_big_write: the pipe ran dry")
        done += moved
    os.close(read_end)


fill = {
    "temp-mmap-fsync": lambda fd: fill_mapped_syncing(fd, False),
    "temp-mmap-late-fsync": lambda fd: fill_mapped_syncing(fd, True),
}.get(mode) or {"-mmap": fill_mapped, "-splice": fill_spliced}.get(mode[mode.rfind("-"):], write_once)
syncs_while_filling = mode in ("temp-mmap-fsync", "temp-mmap-late-fsync")
if mode in ("in-place", "in-place-mmap", "in-place-mmap-fsync", "in-place-mmap-rewritten"):
    fd = os.open(target, os.O_RDWR)
    if mode != "in-place" and os.fstat(fd).st_size != len(data):
        sys.exit("one_big_write: " + mode + " needs a payload as long as the target")
    if mode == "in-place-mmap-fsync":
        with mmap.mmap(fd, len(data), mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE) as mapped:
            mapped[:] = data
            os.fsync(fd)
    else:
        fill_mapped(fd) if mode != "in-place" else fill(fd)
    if mode == "in-place-mmap-rewritten" and os.pwrite(fd, data, 0) != len(data):
        sys.exit("one_big_write: the pwrite was short")
    os.fsync(fd)
    os.close(fd)
elif mode in ("temp-rename", "temp-mmap", "temp-splice", "temp-mmap-fsync", "temp-mmap-late-fsync"):
    temp = target + ".tmp"
    fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        fill(fd)
        os.fchmod(fd, os.stat(target).st_mode & 0o7777)
        if not syncs_while_filling:
            os.fsync(fd)
        os.close(fd)
        os.rename(temp, target)
    except BaseException:
        os.unlink(temp)  # a failed replacement leaves nothing behind
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    os.fsync(dir_fd)
    os.close(dir_fd)
else:
    sys.exit("usage: one_big_write.py MODE TARGET PAYLOAD (modes above)")
