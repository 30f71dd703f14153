"""Request counters for the rate limits, shared by every worker: fixed one-minute windows per
identity (an address, a key).

- `SqliteCounter` (the default): one small SQLite file in the data directory, shared by the
  workers of one machine. An increment is one short transaction (~0.1 ms).
- `RedisCounter`: when `KB_SERVER__REDIS_URL` names a Redis, shared across machines.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

WINDOW = 60.0


class Counter(Protocol):
    def count(self, identities: list[str], window: int) -> list[int]:
        """Count one request for each identity in this window; the counts after it."""
        ...


def over(counter: Counter, identities: list[tuple[str, int]]) -> tuple[int, int] | None:
    """Count one request for each identity; (limit, seconds to wait) if one is over."""
    now = time.time()
    window = int(now // WINDOW)
    counts = counter.count([identity for identity, _ in identities], window)
    limits = [limit for (_, limit), count in zip(identities, counts, strict=True) if count > limit]
    if not limits:
        return None
    return limits[-1], max(1, int((window + 1) * WINDOW - now) + 1)


class SqliteCounter:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=5, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")  # counts lost in a power cut do not matter
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS counts (identity TEXT NOT NULL, window INTEGER NOT NULL, "
            "count INTEGER NOT NULL, PRIMARY KEY (identity, window)) WITHOUT ROWID"
        )
        self._lock = threading.Lock()
        self._swept = 0

    def count(self, identities: list[str], window: int) -> list[int]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                counts = [
                    self._db.execute(
                        "INSERT INTO counts VALUES (?, ?, 1) ON CONFLICT (identity, window) "
                        "DO UPDATE SET count = count + 1 RETURNING count",
                        (identity, window),
                    ).fetchone()[0]
                    for identity in identities
                ]
                if window != self._swept:  # a new minute: forget the old ones
                    self._db.execute("DELETE FROM counts WHERE window < ?", (window - 1,))
                    self._swept = window
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return [int(c) for c in counts]


class RedisCounter:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def count(self, identities: list[str], window: int) -> list[int]:
        pipe = self._redis.pipeline()
        for identity in identities:
            key = f"kb:rate:{window}:{identity}"
            pipe.incr(key)
            pipe.expire(key, int(2 * WINDOW))
        replies = pipe.execute()
        return [int(r) for r in replies[0::2]]


def counter_for(data_dir: Path, redis_url: str | None) -> Counter:
    return RedisCounter(redis_url) if redis_url else SqliteCounter(data_dir / "ratelimits.sqlite")
