"""Chat through an Ollama server with the official `ollama` client.

`ollama` (and httpx under it) is imported when a backend is built, not when this
module is, so `voice-agent --help` does not pay for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from voice_agent.config import LlmConfig
from voice_agent.deadline import GRACE_S, call_within
from voice_agent.errors import ConfigError
from voice_agent.llm.base import ChatMessage, LLMError
from voice_agent.llm.tools import ToolCall

if TYPE_CHECKING:
    import httpx
    import ollama

log = logging.getLogger(__name__)

DEFAULT_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_PORT}"
# A server that is up accepts a connection at once; only a vanished host takes longer.
CONNECT_TIMEOUT_S = 5.0
HOST_FIX = (
    "point llm.ollama_host (or OLLAMA_HOST) at an Ollama server, or set llm.backend to llamacpp"
)


class OllamaError(LLMError):
    """An Ollama failure. `reason` says what went wrong, `fix` what to do; str() says both."""

    def __init__(self, reason: str, fix: str = "") -> None:
        super().__init__(f"{reason}: {fix}" if fix else reason)
        self.reason = reason
        self.fix = fix


def resolve_host(configured: str | None) -> str:
    """The server URL: the configured host, else $OLLAMA_HOST, else localhost.

    Accepts what OLLAMA_HOST accepts ("0.0.0.0", ":11500", "box:11434", "https://x");
    a bare host gets Ollama's port, an explicit scheme its own default port, as the
    ollama client does. Anything else is a ConfigError naming the setting it came from.
    """
    setting = "llm.ollama_host" if configured else "OLLAMA_HOST"
    raw = (configured or os.environ.get("OLLAMA_HOST") or "").strip()
    if not raw:
        return DEFAULT_HOST
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "http", raw
    if scheme not in ("http", "https"):
        raise _bad_host(setting, raw, "the scheme must be http or https")
    try:
        parts = urlsplit(f"{scheme}://{rest}")
        port = parts.port
    except ValueError as exc:
        # urlsplit says "Port could not be cast…", "Port out of range…" or "Invalid IPv6 URL".
        why = _PORT_RANGE if "Port" in str(exc) else "the part in [brackets] is no IPv6 address"
        raise _bad_host(setting, raw, why) from None
    if port is not None and not 0 < port < 65536:
        raise _bad_host(setting, raw, _PORT_RANGE)
    hostname = parts.hostname or "127.0.0.1"
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    elif not _is_host_name(hostname):
        raise _bad_host(setting, raw, f"{hostname!r} is not a host name")
    port = port or (DEFAULT_PORT if not sep else 443 if scheme == "https" else 80)
    path = parts.path.strip("/")
    return f"{scheme}://{hostname}:{port}" + (f"/{path}" if path else "")


_PORT_RANGE = "the port must be a number from 1 to 65535"


def _is_host_name(name: str) -> bool:
    if any(c.isspace() for c in name):
        return False
    try:
        name.encode("idna")  # empty or over-long labels fail here, not at connect time
    except UnicodeError:
        return False
    return True


def _bad_host(setting: str, raw: str, why: str) -> ConfigError:
    return ConfigError(
        f"{setting} {raw!r} is not a valid Ollama address: {why}; "
        "write it like http://127.0.0.1:11434"
    )


def with_tag(model: str) -> str:
    """Ollama's name for a model: "llama3.2" and "llama3.2:latest" are the same model."""
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


class OllamaLLM:
    """The `LLM` protocol over Ollama's /api/chat, streamed.

    `config.timeout_s` is httpx's read timeout: it bounds the wait for the first piece
    of an answer and the wait between pieces.
    """

    def __init__(self, config: LlmConfig) -> None:
        self.config = config
        self.host = resolve_host(config.ollama_host)
        self.model = config.ollama_model
        self.name = f"ollama:{self.model}"
        self._reply_type = ""  # the Content-Type of the latest reply, to tell Ollama's apart
        self._client = self._new_client(config.timeout_s)

    def stream_chat(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Generator[str, None, str | None]:
        """Yield the answer's pieces; return "length" if the token cap ended it. Errors are
        OllamaErrors that say the fix."""
        with self._errors():
            stream = self._client.chat(
                model=self.model,
                messages=messages,
                stream=True,
                keep_alive=self.config.keep_alive,
                options=self._options(max_tokens, temperature),
            )
            finished, reason = False, None
            try:
                for chunk in stream:
                    if chunk.message.content:
                        yield chunk.message.content
                    finished = finished or bool(chunk.done)
                    reason = chunk.done_reason or reason
            finally:
                # Hang up at once when the caller stops early (barge-in): Ollama
                # stops generating when its client goes away.
                stream.close()
            if not finished:
                # A server that hangs up mid-answer: what was said is only part of it.
                raise OllamaError(f"Ollama at {self.host} stopped before the answer was finished")
        return reason

    def tool_calls(self, messages: list[ChatMessage], tools: list[dict]) -> list[ToolCall]:
        """Which tools the model wants called, through Ollama's `tools` API."""
        with self._errors():
            response = self._client.chat(
                model=self.model,
                messages=messages,
                tools=tools,
                stream=False,
                keep_alive=self.config.keep_alive,
                options=self._options(None, 0.0),
            )
        return [
            ToolCall(call.function.name, str(call.function.arguments.get("request", "")).strip())
            for call in response.message.tool_calls or []
        ]

    def warmup(self, system_prompts: Sequence[str] = ()) -> None:
        """Load the model and keep it loaded for `keep_alive`; then evaluate each system prompt.

        A chat with no messages only loads the model. It carries the same options
        as real requests: a different num_ctx would make Ollama load it again.
        A 1-token answer per system prompt leaves it in Ollama's prompt cache.
        A lone string is one prompt.
        """
        if isinstance(system_prompts, str):
            system_prompts = [system_prompts]
        with self._errors():
            self._client.chat(
                model=self.model,
                messages=[],
                keep_alive=self.config.keep_alive,
                options=self._options(None, None),
            )
            for system_prompt in system_prompts:
                self._client.chat(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": system_prompt},
                        {"role": "user", "content": "Hi"},
                    ],
                    keep_alive=self.config.keep_alive,
                    options=self._options(1, 0.0),
                )

    def available(self, timeout: float = 1.0) -> tuple[bool, str]:
        """Whether the server answers within `timeout` seconds and has the model, and why."""
        try:
            self.check(timeout)
        except OllamaError as exc:
            return False, exc.reason
        return True, f"Ollama at {self.host} has {self.model}"

    def check(self, timeout: float = 1.0) -> None:
        """Raise OllamaError (with the fix) unless the server answers like Ollama within
        `timeout` seconds, host name lookup included, and has the model."""
        try:
            names = call_within(timeout + GRACE_S, lambda: self._model_names(timeout))
        except TimeoutError:
            raise self._too_slow(timeout) from None
        if with_tag(self.model) not in names:
            raise self._no_model()

    def close(self) -> None:
        self._client.close()

    def _model_names(self, timeout: float) -> set[str]:
        # A client of its own: the probe gets a short timeout.
        with self._new_client(timeout) as client, self._errors(timeout):
            return {with_tag(m.model or "") for m in client.list().models}

    def _new_client(self, timeout: float) -> ollama.Client:
        import httpx
        import ollama

        return ollama.Client(
            host=self.host,
            timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_S)),
            event_hooks={"response": [self._note_reply]},
        )

    def _note_reply(self, response: httpx.Response) -> None:
        self._reply_type = response.headers.get("content-type", "")

    def _options(self, max_tokens: int | None, temperature: float | None) -> dict[str, Any]:
        return {
            "temperature": self.config.temperature if temperature is None else temperature,
            "top_p": self.config.top_p,
            "num_ctx": self.config.num_ctx,
            "num_predict": max_tokens or self.config.max_tokens,
        }

    def _no_model(self) -> OllamaError:
        return OllamaError(
            f"Ollama at {self.host} has no model {self.model}", f"run `ollama pull {self.model}`"
        )

    def _too_slow(self, seconds: float) -> OllamaError:
        return OllamaError(
            f"Ollama at {self.host} did not answer within {seconds:g} s",
            "check the server (`ollama ps`) or raise llm.timeout_s",
        )

    def _not_ollama(self, what: str) -> OllamaError:
        return OllamaError(
            f"the server at {self.host} is not a working Ollama: it sent {what}", HOST_FIX
        )

    @contextmanager
    def _errors(self, timeout: float | None = None) -> Iterator[None]:
        """Turn the client's exceptions into one-sentence OllamaErrors that say the fix."""
        import httpx
        import ollama

        seconds = timeout or self.config.timeout_s
        self._reply_type = ""
        try:
            yield
        except ollama.ResponseError as exc:
            if "json" not in self._reply_type:
                raise self._not_ollama(f"HTTP {exc.status_code} ({self._sent()})") from None
            if exc.status_code == 404 and "not found" in exc.error:
                raise self._no_model() from None
            raise OllamaError(f"Ollama at {self.host} failed: {exc.error}") from None
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout):
            # The client raises ConnectionError for plain requests, but lets
            # httpx.ConnectError through for streamed ones.
            raise OllamaError(
                f"no Ollama server at {self.host}",
                "start it with `ollama serve`, or set llm.backend to llamacpp",
            ) from None
        except httpx.TimeoutException:
            raise self._too_slow(seconds) from None
        except httpx.HTTPError as exc:
            raise OllamaError(f"the connection to Ollama at {self.host} broke: {exc}") from None
        except (ValueError, TypeError, AttributeError):
            # What the client raises on a reply it cannot read: bad JSON (ValueError), JSON of
            # the wrong shape (pydantic's ValidationError, TypeError, AttributeError).
            log.warning("unreadable reply from %s", self.host, exc_info=True)
            raise self._not_ollama(self._sent()) from None

    def _sent(self) -> str:
        if not self._reply_type:
            return "an untyped reply"
        if "json" in self._reply_type:
            return "JSON that is not Ollama's"
        return self._reply_type.split(";")[0].strip()
