"""Resident memory of a worker process, read from ``/proc`` (Linux)."""

from __future__ import annotations

import os

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_kb(pid: int) -> int | None:
    """Current resident set size in KiB, or ``None`` where ``/proc`` is not available."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE // 1024
    except (OSError, IndexError, ValueError):
        return None


def peak_rss_kb(pid: int) -> int | None:
    """The process's peak resident set size (``VmHWM``) in KiB."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return None
