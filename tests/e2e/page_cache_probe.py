#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
# The ways into a file's page cache that direct I/O does not close, for
# test_page_cache.sh:
#   fill MODE FILE        MODE mmap: map the file MAP_PRIVATE and read it;
#                         fadvise: posix_fadvise(WILLNEED); readahead:
#                         readahead(2); sendfile: sendfile(2) to /dev/null
#                         (splice reads through the page cache). Prints what
#                         a mapping read showed ("SIGBUS" if it could not),
#                         "done", or why sendfile was refused.
#   hold FILE READY GO    maps FILE MAP_PRIVATE without touching it, creates
#                         READY, waits for GO to exist, then prints the pages
#                         of the mapping resident in the page cache (mincore)
#                         and what reading its first page shows.
# A read of a mapping runs in a forked child, so a SIGBUS (a page the kernel
# could not fill) is reported instead of killing the probe.
import ctypes
import ctypes.util
import mmap
import os
import sys
import time

libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
libc.readahead.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_size_t]
libc.readahead.restype = ctypes.c_ssize_t
PAGE = mmap.PAGESIZE


def map_file(fd, size):
    length = max(PAGE, (size + PAGE - 1) // PAGE * PAGE)
    addr = libc.mmap(None, length, mmap.PROT_READ, mmap.MAP_PRIVATE, fd, 0)
    if addr in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap failed")
    return addr, length


def read_mapping(addr, n):
    """The first n bytes of the mapping, read in a child; None on a signal."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            os.write(w, ctypes.string_at(addr, n))
        finally:
            os._exit(0)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return None
    return b"".join(chunks)


def shown(data):
    return "SIGBUS" if data is None else data.rstrip(b"\0").decode("utf-8", "replace")


def resident(addr, length):
    vec = ctypes.create_string_buffer(length // PAGE)
    if libc.mincore(ctypes.c_void_p(addr), length, vec) != 0:
        raise OSError(ctypes.get_errno(), "mincore failed")
    return sum(b & 1 for b in vec.raw)


def main(argv):
    if len(argv) == 3 and argv[0] == "fill":
        mode, path = argv[1], argv[2]
        fd = os.open(path, os.O_RDONLY)
        size = os.fstat(fd).st_size
        if mode == "mmap":
            addr, _ = map_file(fd, size)
            print(shown(read_mapping(addr, min(size, PAGE))))
        elif mode == "fadvise":
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_WILLNEED)
            print("done")
        elif mode == "readahead":
            if libc.readahead(fd, 0, max(size, PAGE)) != 0:
                raise OSError(ctypes.get_errno(), "readahead failed")
            print("done")
        elif mode == "sendfile":  # splice: the kernel reads it through the page cache
            out = os.open(os.devnull, os.O_WRONLY)
            try:
                os.sendfile(out, fd, 0, max(size, PAGE))
                print("done")
            except OSError as e:
                print("refused: " + os.strerror(e.errno))
        else:
            raise SystemExit("unknown mode " + mode)
        return 0
    if len(argv) == 4 and argv[0] == "hold":
        path, ready, go = argv[1:]
        fd = os.open(path, os.O_RDONLY)
        size = os.fstat(fd).st_size
        addr, length = map_file(fd, size)
        open(ready, "w").close()
        deadline = time.monotonic() + 30
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                raise SystemExit("no go within 30 s")
            time.sleep(0.01)
        print("resident=%d" % resident(addr, length))
        # The whole first page: the content may have grown since the open.
        print(shown(read_mapping(addr, PAGE)))
        return 0
    raise SystemExit(__doc__ or "usage: fill MODE FILE | hold FILE READY GO")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
