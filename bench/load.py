"""Load test: many concurrent clients send search and ask requests to a server on loopback.

Starts `kb serve` on a free loopback port over the library in KB_DATA_DIR (or uses --url),
runs the clients for a bounded time, and prints requests per second, p50/p95/p99 latency
and, per kind of request, how many were answered, refused by the rate limit (429: the limits
are on, as in production; every client here shares one loopback address) and failed.

    KB_DATA_DIR=kb-data .venv/bin/python bench/load.py [--clients 50] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "What did the pilot projects learn about engaging the private sector?",
    "Which prerequisites did the IOM list for skills mobility partnerships?",
    "How was digitalisation discussed at the fourth LMPN conference?",
    "Who can become a member of the practitioners network?",
    "What are the barriers to skills recognition for migrant workers?",
    "How do diaspora groups contribute to talent partnerships?",
    "What is the capital of Australia?",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ui", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("kb serve did not start")


async def client(
    url: str, until: float, results: dict[str, list[tuple[float, int]]], seed: int
) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        while time.monotonic() < until:
            question = rng.choice(QUESTIONS)
            kind = "ask" if rng.random() < 0.3 else "search"
            body = {"question": question} if kind == "ask" else {"query": question, "k": 8}
            started = time.perf_counter()
            try:
                status = (await http.post(f"/api/{kind}", json=body)).status_code
            except httpx.HTTPError:
                status = 0  # no answer at all
            results[kind].append((time.perf_counter() - started, status))


def report(kind: str, samples: list[tuple[float, int]], seconds: float) -> None:
    times = sorted(t * 1000 for t, status in samples if status == 200)
    limited = sum(1 for _, status in samples if status == 429)
    errors = sum(1 for _, status in samples if status not in (200, 429))
    if not times:
        print(f"{kind:7} none answered  rate-limited (429) {limited}  errors {errors}")
        return

    def pct(p: float) -> float:
        return times[min(len(times) - 1, int(p * len(times)))]

    print(
        f"{kind:7} {len(times):6d} answered  {len(times) / seconds:6.1f} req/s  "
        f"p50 {statistics.median(times):7.0f} ms  p95 {pct(0.95):7.0f} ms  "
        f"p99 {pct(0.99):7.0f} ms  rate-limited (429) {limited}  errors {errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--url", help="an already running server (default: start one)")
    args = parser.parse_args()
    process, url = (None, args.url) if args.url else start_server()
    results: dict[str, list[tuple[float, int]]] = {"search": [], "ask": []}
    try:
        until = time.monotonic() + args.seconds
        started = time.monotonic()

        async def run_all() -> None:
            await asyncio.gather(*(client(url, until, results, i) for i in range(args.clients)))

        asyncio.run(run_all())
        elapsed = time.monotonic() - started
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
    print(f"{args.clients} concurrent clients for {elapsed:.0f} s against {url}")
    for kind, samples in results.items():
        report(kind, samples, elapsed)
    report("all", results["search"] + results["ask"], elapsed)


if __name__ == "__main__":
    main()
