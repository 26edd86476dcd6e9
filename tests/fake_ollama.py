"""A fake Ollama server: real HTTP on 127.0.0.1, speaking Ollama's wire format.

It implements what the voice agent uses — `POST /api/chat` (NDJSON streaming
or one JSON object, and the empty-messages "load" request) and `GET /api/tags`
— records every request so tests can check their shape, and notices when a
client hangs up in the middle of a streamed answer.

It can also break the way real servers do (see FAULTS): refuse connections,
stall, send something that is not Ollama's, or cut a stream; `recover()` heals it.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# What `FakeOllama.fault` can be; each applies to every request while it is set.
FAULTS = {
    # Accept the connection, then send nothing for `stall_s` (before the status line).
    "stall": "no reply at all",
    # Stream `fault_after` pieces, then send nothing for `stall_s`.
    "stall_mid": "a stream that stops moving",
    # A web page where Ollama's JSON should be (a router, a proxy, another web app).
    "html": "200 text/html",
    # A proxy whose backend is gone.
    "bad_gateway": "502 text/html",
    # JSON-looking text that does not parse.
    "bad_json": "invalid JSON",
    # Valid JSON, but not what Ollama sends.
    "foreign_json": "a JSON list",
    # Bytes that are not text at all.
    "binary": "application/octet-stream",
    # Stream `fault_after` pieces, then half a JSON line, then end the stream.
    "half_line": "a line cut in half",
    # Stream `fault_after` pieces, then close the connection mid-response.
    "drop": "the connection drops",
}
STREAM_FAULTS = {"stall_mid", "half_line", "drop"}  # plain requests are answered normally
HTML_PAGE = b"<!DOCTYPE html><html><head><title>Welcome</title></head><body>It works!</body></html>"


@dataclass
class Recorded:
    method: str
    path: str
    body: dict[str, Any] | None


@dataclass
class FakeOllama:
    """Start with `with FakeOllama(models=[...]) as fake:`; `fake.host` is its address.

    `reply` is split on spaces into one streamed piece per word, like tokens.
    `chunk_delay` slows the stream; `fail_after` sends an error line after that many pieces;
    `cut_after` ends the stream after that many pieces without Ollama's final `done` line.
    `tool_calls` ({name: request}) is what it answers a request that offers `tools`.

    `fault` (a key of FAULTS) breaks every request while set; `fault_after` is how many
    pieces a stream sends first, `stall_s` how long a stall lasts. `refuse()` stops
    listening (connections are refused); `recover()` clears the fault and listens again
    on the same port.
    """

    models: list[str] = field(default_factory=lambda: ["llama3.2:3b"])
    reply: str = "Paris is the capital of France."
    chunk_delay: float = 0.0
    fail_after: int | None = None
    cut_after: int | None = None
    tool_calls: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    fault_after: int = 2
    stall_s: float = 30.0
    requests: list[Recorded] = field(default_factory=list)
    pieces_sent: int = 0
    client_hung_up: threading.Event = field(default_factory=threading.Event)
    # Set to end every stall at once (on recover and exit), so no handler outlives the test.
    _unstall: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _port: int = field(default=0, init=False, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}: one of {', '.join(FAULTS)}")

    def __enter__(self) -> FakeOllama:
        self._listen()
        return self

    def __exit__(self, *exc: object) -> None:
        self._unstall.set()
        self._stop()

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def refuse(self) -> None:
        """Stop listening: connections to `host` are refused until `recover()`."""
        self._stop()

    def recover(self) -> None:
        """Heal every fault (also `fail_after`, `cut_after`): answer normally again, listening
        on the same port."""
        self.fault = self.fail_after = self.cut_after = None
        self._unstall.set()
        self._unstall = threading.Event()
        if self._server is None:
            self._listen()

    def _listen(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        # A short poll interval makes shutdown() quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = None

    def _stall(self) -> None:
        self._unstall.wait(self.stall_s)

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r.body or {} for r in self.requests if r.path == "/api/chat"]

    def has_model(self, name: str) -> bool:
        return _with_tag(name) in {_with_tag(m) for m in self.models}


def _with_tag(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _message(model: str, content: str, done: bool, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "created_at": _now(),
        "message": {"role": "assistant", "content": content},
        "done": done,
        **extra,
    }


def _final_stats(pieces: int, reason: str) -> dict[str, Any]:
    return {
        "done_reason": reason,
        "total_duration": 120_000_000,
        "load_duration": 10_000_000,
        "prompt_eval_count": 26,
        "prompt_eval_duration": 30_000_000,
        "eval_count": pieces,
        "eval_duration": 80_000_000,
    }


def _handler_for(fake: FakeOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            fake.requests.append(Recorded("GET", self.path, None))
            if self._broken():
                return
            if self.path == "/api/tags":
                self._json(200, {"models": [_tag_entry(m) for m in fake.models]})
            else:
                self._text(404, "404 page not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(Recorded("POST", self.path, body))
            if self._broken():
                return
            if self.path != "/api/chat":
                self._text(404, "404 page not found")
            elif not fake.has_model(body.get("model", "")):
                error = f'model "{body.get("model")}" not found, try pulling it first'
                self._json(404, {"error": error})
            elif not body.get("messages"):
                # Ollama loads the model and answers at once when there is nothing to say.
                self._json(200, _message(body["model"], "", True, done_reason="load"))
            elif body.get("tools"):
                offered = {t["function"]["name"] for t in body["tools"]}
                calls = [
                    {"function": {"name": name, "arguments": {"request": request}}}
                    for name, request in fake.tool_calls.items()
                    if name in offered
                ]
                reply = _message(body["model"], "", True) | _final_stats(0, "stop")
                reply["message"]["tool_calls"] = calls
                self._json(200, reply)
            elif body.get("stream", True):
                self._stream(body)
            else:
                pieces = self._pieces(body)
                final = _message(body["model"], "".join(pieces), True)
                self._json(200, final | _final_stats(len(pieces), "stop"))

        def _broken(self) -> bool:
            """Answer as the fault says, unless it only breaks streams; True if it answered."""
            fault = fake.fault
            if fault == "stall":
                fake._stall()
                self.close_connection = True
            elif fault == "html":
                self._send(200, "text/html; charset=utf-8", HTML_PAGE)
            elif fault == "bad_gateway":
                self._send(502, "text/html", b"<html><body><h1>502 Bad Gateway</h1></body></html>")
            elif fault == "bad_json":
                self._send(200, "application/json", b"{model: llama3, done: yes}\n")
            elif fault == "foreign_json":
                self._send(200, "application/json", b'["not", "ollama"]\n')
            elif fault == "binary":
                self._send(200, "application/octet-stream", bytes(range(256)))
            else:
                return False
            return True

        def _pieces(self, body: dict[str, Any]) -> list[str]:
            words = fake.reply.split(" ")
            pieces = [w if i == 0 else " " + w for i, w in enumerate(words)]
            limit = (body.get("options") or {}).get("num_predict")
            return pieces[:limit] if limit else pieces

        def _stream(self, body: dict[str, Any]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            pieces = self._pieces(body)
            try:
                for i, piece in enumerate(pieces):
                    if fake.fault in STREAM_FAULTS and i == fake.fault_after:
                        self._break_stream(body)
                        return
                    if fake.fail_after is not None and i == fake.fail_after:
                        self._chunk({"error": "an error was encountered while running the model"})
                        break
                    if fake.cut_after is not None and i == fake.cut_after:
                        break
                    time.sleep(fake.chunk_delay)
                    self._chunk(_message(body["model"], piece, False))
                    fake.pieces_sent += 1
                else:
                    reason = "length" if len(pieces) < len(fake.reply.split(" ")) else "stop"
                    self._chunk(
                        _message(body["model"], "", True) | _final_stats(len(pieces), reason)
                    )
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                fake.client_hung_up.set()
                self.close_connection = True

        def _break_stream(self, body: dict[str, Any]) -> None:
            self.close_connection = True
            if fake.fault == "stall_mid":
                fake._stall()
            elif fake.fault == "half_line":
                line = json.dumps(_message(body["model"], " and", False)).encode()
                self._raw_chunk(line[: len(line) // 2])
                self.wfile.write(b"0\r\n\r\n")
            elif fake.fault == "drop":
                # A chunk announced longer than what is sent, then the connection closes.
                self.wfile.write(b"40\r\n" + b'{"model": "')
                self.wfile.flush()

        def _chunk(self, obj: dict[str, Any]) -> None:
            self._raw_chunk(json.dumps(obj).encode() + b"\n")

        def _raw_chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _json(self, status: int, obj: dict[str, Any]) -> None:
            self._send(status, "application/json; charset=utf-8", json.dumps(obj).encode())

        def _text(self, status: int, text: str) -> None:
            self._send(status, "text/plain", text.encode())

        def _send(self, status: int, content_type: str, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _tag_entry(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "model": name,
        "modified_at": _now(),
        "size": 2019393189,
        "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
        "details": {
            "parent_model": "",
            "format": "gguf",
            "family": "llama",
            "families": ["llama"],
            "parameter_size": "3.2B",
            "quantization_level": "Q4_K_M",
        },
    }
