"""A fake Ollama server: real HTTP on 127.0.0.1, speaking Ollama's wire format.

It implements what the voice agent uses — `POST /api/chat` (NDJSON streaming
or one JSON object, and the empty-messages "load" request) and `GET /api/tags`
— records every request so tests can check their shape, and notices when a
client hangs up in the middle of a streamed answer.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
    """

    models: list[str] = field(default_factory=lambda: ["llama3.2:3b"])
    reply: str = "Paris is the capital of France."
    chunk_delay: float = 0.0
    fail_after: int | None = None
    cut_after: int | None = None
    tool_calls: dict[str, str] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    pieces_sent: int = 0
    client_hung_up: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> FakeOllama:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval makes shutdown() quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

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
            if self.path == "/api/tags":
                self._json(200, {"models": [_tag_entry(m) for m in fake.models]})
            else:
                self._text(404, "404 page not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            fake.requests.append(Recorded("POST", self.path, body))
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

        def _chunk(self, obj: dict[str, Any]) -> None:
            data = json.dumps(obj).encode() + b"\n"
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
