"""The library's write lock: one writer at a time (an ingest, an upload, a re-classification),
across processes on the machine. Readers never take it, except to repair the index when no
writer is at work."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.errors import IndexBusy


@contextmanager
def write_lock(data_dir: Path) -> Iterator[None]:
    """Only one writer at a time; a second one stops with a clear message."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "ingest.lock").open("a+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise IndexBusy(
                f"Another `kb ingest` is writing to {data_dir}; try again when it ends."
            ) from e
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
