"""Freed memory goes back to the system after memory work (glibc keeps it otherwise)."""

from __future__ import annotations

import pytest
from sleepmem.adapters.server.soak import rss_bytes
from sleepmem.engine import heap

MB = 2**20


def test_release_hands_freed_heap_pages_back() -> None:
    if not heap.release():
        pytest.skip("this C library keeps no trimmable heap (not glibc)")
    # 100 KB blocks come from the heap, not from mmap; every tenth one stays alive, so the
    # free space between them cannot shrink the heap from its top on its own
    blocks = [bytes([i % 251]) * 100_000 for i in range(3000)]
    survivors = blocks[::10]
    del blocks
    held = rss_bytes()
    assert heap.release()
    released = held - rss_bytes()
    assert released > 150 * MB, f"only {released / MB:.0f} MB went back"
    assert len(survivors) == 300
