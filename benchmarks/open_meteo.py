"""A local stand-in for Open-Meteo's geocoding and forecast APIs, on 127.0.0.1.

It serves the recorded responses in tests/fixtures/weather, so the weather agent can be
driven through the real CLI (`--set agents.skill_config.weather.geocoding_url=...`) offline,
by the tests and by the conversation benchmark.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "weather"
PLACES = {
    "london": ("geocoding_london", "forecast_london"),
    "paris": ("geocoding_paris", "forecast_paris"),
    "berlin": ("geocoding_berlin", "forecast_berlin"),
    "new york": ("geocoding_new_york", "forecast_new_york_fahrenheit"),
}


def _fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class OpenMeteoServer:
    """`refuse()` takes it down (connections refused, as with no network); `recover()` brings
    it back on the same port, so the settings pointing here stay right."""

    def __init__(self) -> None:
        self._port = 0  # the system picks one at the first start; recover() keeps it
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> OpenMeteoServer:
        self._listen()
        return self

    def __exit__(self, *exc: object) -> None:
        self.refuse()

    def refuse(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def recover(self) -> None:
        if self._server is None:
            self._listen()

    def _listen(self) -> None:
        forecasts = {
            round(_fixture(geo)["results"][0]["latitude"], 2): forecast
            for geo, forecast in PLACES.values()
        }

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None: ...

            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path == "/v1/search":
                    names = PLACES.get(query.get("name", "").lower())
                    body = _fixture(names[0] if names else "geocoding_none")
                else:
                    name = forecasts.get(round(float(query.get("latitude", "nan")), 2))
                    body = _fixture(name or "forecast_error_400")
                data = json.dumps(body).encode()
                self.send_response(200 if "error" not in body else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def settings(self) -> list[str]:
        """The --set overrides that point the weather agent here."""
        base = f"http://127.0.0.1:{self._port}/v1"
        return [
            f"agents.skill_config.weather.geocoding_url={base}/search",
            f"agents.skill_config.weather.forecast_url={base}/forecast",
        ]
