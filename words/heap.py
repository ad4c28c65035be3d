"""Handing freed heap memory back to the system: glibc's malloc_trim, off the hot path.

glibc keeps memory that was freed in the middle of its heap; malloc_trim(0) gives
its whole free pages back (madvise). The IRC server's sweep calls `trim` after many
connections closed. Python's own allocator (pymalloc, the default) keeps its arenas
while any object in them lives, so with it this returns only what Python asked of
malloc directly (big dicts, buffers); under PYTHONMALLOC=malloc everything is
glibc's and most of it comes back (bench/README.md).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

_malloc_trim: Callable[[int], int] | None = None
_looked_up = False


def trim() -> bool:
    """Ask the C library to return free heap pages; False where it has no malloc_trim."""
    global _malloc_trim, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            _malloc_trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
        except OSError:
            _malloc_trim = None
    if _malloc_trim is None:
        return False
    _malloc_trim(0)
    return True
