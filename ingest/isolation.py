"""Reading an untrusted file in a process of its own, with hard limits: a PDF that expands
to gigabytes or loops for minutes costs that process, never the server that received it.

The worker runs at a lower priority (searches stay fast meanwhile), with an address-space
limit (`KB_PARSING__MAX_WORKER_MB`) and a wall-clock limit (`max_seconds_per_file`, checked
from outside: a parser stuck inside one page cannot ignore it); past either it is killed and
the file is reported, not indexed.

Workers come from a fork server that imported the parsers once (started with the server by
`warm_up`), so a file's process starts in milliseconds instead of the seconds a fresh
interpreter needs to import them, and never inherits the server's threads.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import resource
import signal
import sys
from multiprocessing.connection import Connection

from ingest.prepare import FileTask, PreparedFile, prepare_file
from kb.settings import Settings

_STARTUP_SECONDS = 120.0  # a fresh fork server importing the parsers (2-3 s when idle)
_READY = "ready"


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    # The splitter's llama-index too: ingest/chunk.py imports it only when a file is split
    # (the API workers never do), and each upload would import it again (a second).
    context.set_forkserver_preload(["ingest.prepare", "llama_index.core.node_parser"])
    return context


def warm_up() -> None:
    """Start the fork server now (a server calls this at start-up, so that the first
    upload does not wait for the parsers to be imported)."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


def die_with_parent() -> None:
    """Linux: the worker is killed when the ingest that started it dies (a kill -9 must not
    leave a reader process behind, waiting forever)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _work(conn: Connection, task: FileTask, settings: Settings) -> None:
    die_with_parent()
    limit = int(settings.parsing.max_worker_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.nice(10)
    conn.send(_READY)  # the parsers are imported: the file's clock starts now
    try:
        conn.send(prepare_file(task, settings))
    except MemoryError:
        conn.send(None)
    finally:
        conn.close()


def prepare_isolated(task: FileTask, settings: Settings) -> PreparedFile:
    """`prepare_file` in a killable process of its own; a file over a limit is an error."""
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_work, args=(sender, task, settings), daemon=True)
    worker.start()
    sender.close()
    seconds = settings.parsing.max_seconds_per_file
    try:
        if not receiver.poll(_STARTUP_SECONDS) or receiver.recv() != _READY:
            return PreparedFile(task=task, error="the reading process did not start")
        if receiver.poll(seconds):
            prepared: PreparedFile | None = receiver.recv()
            if prepared is not None:
                return prepared
            return PreparedFile(task=task, error=_too_big(settings))
        if worker.is_alive():
            return PreparedFile(task=task, error=f"reading it took longer than {seconds:g} s")
        return PreparedFile(task=task, error=_too_big(settings))  # killed by its limit
    except EOFError:  # the worker died before answering (out of memory inside C code)
        return PreparedFile(task=task, error=_too_big(settings))
    finally:
        worker.kill()
        worker.join(5)
        receiver.close()


def _too_big(settings: Settings) -> str:
    return f"reading it needed more than {settings.parsing.max_worker_mb:g} MB of memory"
