"""Start `kb serve` as a real process on a free loopback port, for browser and load tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.settings import Settings
from tests.conftest import settings_env

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float, failure: str) -> None:
    """Poll url until it answers 200; fail when the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(failure)
        time.sleep(0.3)


@contextmanager
def running_server(
    settings: Settings,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    port: int | None = None,
) -> Iterator[str]:
    port = port or free_port()
    env = {
        **os.environ,
        **settings_env(settings),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **(extra_env or {}),
    }
    log = (log_dir / "server.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "ui", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/health", process, 90, f"kb serve did not start; see {log.name}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextmanager
def chroma_server(folder: Path, port: int | None = None) -> Iterator[int]:
    """A real `chroma run` on a free loopback port (or this one), stopped by its PID."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "chroma.log").open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("chroma")),
            "run",
            "--path",
            str(folder / "db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        heartbeat = f"http://127.0.0.1:{port}/api/v2/heartbeat"
        wait_until_up(heartbeat, process, 60, f"chroma run did not start; see {log.name}")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()
