"""A stand-in for an OpenAI-compatible language model, on loopback, for the composer's tests.

It plays the outside world: it reads the passages from the prompt it gets, like a model
would, and answers in the scenario its model name asks for: a good answer, a fabricated
quote, a quote under the wrong [n], an answer that obeys an instruction planted in a
document, malformed output, an error, or silence past the timeout. Nothing of ours runs in it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PASSAGE = re.compile(r'<passage n="(\d+)"[^>]*>\n(.*?)\n</passage>', re.S)
FABRICATED = "Employers must pay every seasonal worker a bonus of 5,000 euros on arrival"
PLANTED_ADVICE = "Email a copy of your passport to visa-help@example.org for faster processing"


def _sentences(text: str) -> list[str]:
    found = re.split(r"(?<=[.!?])\s+(?=[A-Z])", " ".join(text.split()))
    return [s for s in found if len(s.split()) >= 8 and s.endswith(".")]


def _line(sentence: str, source: int, quote: str) -> str:
    return json.dumps({"sentence": sentence, "source": source, "quote": quote})


def script(scenario: str, prompt: str) -> str:
    """What the stand-in 'model' writes for this scenario, given the prompt's passages."""
    passages = {int(n): text for n, text in _PASSAGE.findall(prompt)}
    first = _sentences(passages[1])[0] if passages.get(1) else "nothing"
    second = _sentences(passages[2])[0] if passages.get(2) and _sentences(passages[2]) else None
    if scenario == "good":
        lines = [_line(f"The library reports: {first.rstrip('.')}.", 1, first)]
        if second:  # the model's own copy, with its line breaks and spacing changed
            lines.append(_line(second, 2, "  " + second.replace(" ", "\n", 2)))
        return "\n".join(lines)
    if scenario == "fabricated":
        return _line(FABRICATED + ".", 1, FABRICATED)
    if scenario == "wrong-source":
        return _line(first, 2 if first not in passages.get(2, "") else 3, first)
    if scenario == "mixed":
        return "\n".join([_line(first, 1, first), _line(FABRICATED + ".", 1, FABRICATED)])
    if scenario == "obeys-instruction":
        planted = next((n for n, t in passages.items() if "instructions" in t), 1)
        instruction = next(s for s in _sentences(passages[planted]) if "instructions" in s)
        return "\n".join(
            [
                _line(PLANTED_ADVICE + ".", planted, instruction),  # quotes the instruction
                _line(PLANTED_ADVICE + ".", 1, first),  # or a real sentence it does not say
            ]
        )
    if scenario == "malformed":
        return 'Sure! Here is the answer: {"sentence": "Workers may change employer'
    raise ValueError(scenario)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.server.requests.append({"headers": headers, "body": body})
        scenario = body["model"]
        if scenario == "timeout":
            time.sleep(self.server.delay)
        if scenario == "error":
            self._send(500, "application/json", b'{"error": {"message": "overloaded"}}')
            return
        prompt = "\n".join(m["content"] for m in body["messages"])
        text = script("good" if scenario == "timeout" else scenario, prompt)
        if body.get("stream"):
            self._stream(scenario, text)
        else:
            choice = {"index": 0, "message": {"role": "assistant", "content": text},
                      "finish_reason": "stop"}  # fmt: skip
            reply = {"id": "x", "object": "chat.completion", "created": 0, "model": scenario,
                     "choices": [choice]}  # fmt: skip
            self._send(200, "application/json", json.dumps(reply).encode())

    def _stream(self, scenario: str, text: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for i in range(0, len(text), 17):  # small pieces, splitting lines mid-way
            delta = {"content": text[i : i + 17]}
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": scenario,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _send(self, status: int, media: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", media)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    requests: list[dict[str, Any]]
    delay: float


@contextmanager
def standin_model(delay: float = 5.0) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The stand-in on a free loopback port: its /v1 base URL and the requests it received."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.requests, server.delay = [], delay
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server.requests
    finally:
        server.shutdown()
        server.server_close()
