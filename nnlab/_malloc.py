"""Keep glibc from handing freshly zeroed pages to every training step.

Each step allocates multi-megabyte activations and gradients. With glibc's default
thresholds those come from ``mmap`` (or the heap is trimmed after they are freed), so
the next step's arrays land on new pages that the kernel must fault in and zero, about
one fault per 4 KiB page of every array, every step (the benchmarks report faults per
step). Raising the thresholds once keeps the memory in the process for reuse.

Linux with glibc only; set ``NNLAB_NO_MALLOPT=1`` to leave malloc alone.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_malloc() -> bool:
    """Raise glibc's mmap (32 MiB) and trim (512 MiB) thresholds; True if applied."""
    if os.environ.get("NNLAB_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024)
    ok &= mallopt(_M_TRIM_THRESHOLD, 512 * 1024 * 1024)
    return bool(ok)
