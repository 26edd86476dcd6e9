"""Chat through an Ollama server with the official `ollama` client.

`ollama` (and httpx under it) is imported when a backend is built, not when this
module is, so `voice-agent --help` does not pay for it.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from voice_agent.config import LlmConfig
from voice_agent.llm.base import ChatMessage, LLMError
from voice_agent.llm.tools import ToolCall

if TYPE_CHECKING:
    import ollama

DEFAULT_PORT = 11434
DEFAULT_HOST = f"http://127.0.0.1:{DEFAULT_PORT}"


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
    ollama client does.
    """
    raw = (configured or os.environ.get("OLLAMA_HOST") or "").strip()
    if not raw:
        return DEFAULT_HOST
    scheme, sep, rest = raw.partition("://")
    if not sep:
        scheme, rest = "http", raw
    parts = urlsplit(f"{scheme}://{rest}")
    port = parts.port or (DEFAULT_PORT if not sep else 443 if scheme == "https" else 80)
    hostname = parts.hostname or "127.0.0.1"
    if ":" in hostname:  # IPv6 literal
        hostname = f"[{hostname}]"
    path = parts.path.strip("/")
    return f"{scheme}://{hostname}:{port}" + (f"/{path}" if path else "")


def with_tag(model: str) -> str:
    """Ollama's name for a model: "llama3.2" and "llama3.2:latest" are the same model."""
    return model if ":" in model.rsplit("/", 1)[-1] else f"{model}:latest"


class OllamaLLM:
    """The `LLM` protocol over Ollama's /api/chat, streamed."""

    def __init__(self, config: LlmConfig, client: ollama.Client | None = None) -> None:
        self.config = config
        self.host = resolve_host(config.ollama_host)
        self.model = config.ollama_model
        self.name = f"ollama:{self.model}"
        self._client = client or _client(self.host, config.timeout_s)
        self._own_client = client is None

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
        """Raise OllamaError (with the fix) unless the server answers and has the model."""
        # Our own client gets a short timeout for the probe; a caller's is used as it is.
        client = _client(self.host, timeout) if self._own_client else self._client
        try:
            with self._errors(timeout):
                names = {with_tag(m.model or "") for m in client.list().models}
        finally:
            if self._own_client:
                client.close()
        if with_tag(self.model) not in names:
            raise self._no_model()

    def close(self) -> None:
        if self._own_client:
            self._client.close()

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

    @contextmanager
    def _errors(self, timeout: float | None = None) -> Iterator[None]:
        """Turn the client's exceptions into one-sentence OllamaErrors that say the fix."""
        import httpx
        import ollama

        try:
            yield
        except ollama.ResponseError as exc:
            if exc.status_code == 404 and "not found" in exc.error:
                raise self._no_model() from None
            raise OllamaError(f"Ollama at {self.host} failed: {exc.error}") from None
        except (ConnectionError, httpx.ConnectError):
            # The client raises ConnectionError for plain requests, but lets
            # httpx.ConnectError through for streamed ones.
            raise OllamaError(
                f"no Ollama server at {self.host}",
                "start it with `ollama serve`, or set llm.backend to llamacpp",
            ) from None
        except httpx.TimeoutException:
            seconds = timeout or self.config.timeout_s
            raise OllamaError(
                f"Ollama at {self.host} did not answer within {seconds:g} s",
                "check the server (`ollama ps`) or raise llm.timeout_s",
            ) from None
        except httpx.HTTPError as exc:
            raise OllamaError(f"the connection to Ollama at {self.host} broke: {exc}") from None


def _client(host: str, timeout: float) -> ollama.Client:
    import ollama

    return ollama.Client(host=host, timeout=timeout)
