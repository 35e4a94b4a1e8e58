"""Reading files that come from a rule pack, within a size bound, without blocking."""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["read_regular_file"]

# O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever. The flag
# changes nothing for a regular file, and anything else is refused before a byte is read.
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)


def read_regular_file(path: str | Path, limit: int, head: int | None = None) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (symbolic links followed).

    The check is made on the opened descriptor, so a file swapped for a device or a FIFO
    after a first look cannot slip through. With ``head``, only the first ``head`` bytes
    are read (fewer if the file is shorter), and the size is checked from the descriptor.

    Raises:
        OSError: the file cannot be opened or read.
        ValueError: the file is not a regular file (a device such as ``/dev/zero``, a FIFO, a
            folder), is larger than ``limit``, or its path holds a NUL byte.
    """
    descriptor = os.open(path, _FLAGS)
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file (a device, a FIFO or a folder)")
        if head is not None and info.st_size > limit:
            raise ValueError(f"larger than {limit} bytes")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(limit + 1 if head is None else min(head, limit))
    finally:
        os.close(descriptor)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes")
    return data
