"""Chat with a GGUF model embedded in this process through llama-cpp-python.

llama_cpp is imported on first load, never at module import: the CLI must start
fast, and users of Ollama need not install it.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from voice_agent.config import LlmConfig
from voice_agent.errors import ModelMissingError, UserError
from voice_agent.llm.base import ChatMessage, LLMError, Piece, Token
from voice_agent.models import GGUF_MAGIC

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)

# Prefilling starts this long after a turn: a one-shot `ask` closes the model first, without
# waiting for an exchange to be read.
PREFILL_AFTER_S = 0.5
# Tokens read per llama.cpp call while prefilling: a hold (speech began) waits for one call at
# most, about 0.1 s for the 1.5B model here, however long the exchange being read.
PREFILL_CHUNK = 16
WARMUP_SYSTEM_PROMPT = "You are a helpful voice assistant. Answer in one or two short sentences."


def model_display_name(model: str, path: Path | None = None) -> str:
    """A known name is shown as it is ("qwen2.5-coder-0.5b"), a path by its file stem."""
    if path is not None:
        return path.stem
    if model.endswith(".gguf") or "/" in model:
        return Path(model).stem
    return model


class LlamaCppLLM:
    """The `LLM` protocol over an embedded llama.cpp model.

    The model path is resolved at construction (a missing model fails at start);
    the weights load on `warmup()` or the first request. A llama.cpp context is
    not thread-safe, so one answer is generated at a time.
    """

    def __init__(self, config: LlmConfig, model_path: Path | None = None) -> None:
        self.config = config
        # A path, or a Hugging Face `org/repo/file.gguf` not downloaded yet.
        self.model_path: Path | str = model_path or _resolve(config.model)
        self.model_name = model_display_name(config.model, model_path)
        self.name = f"llamacpp:{self.model_name}"
        self.load_seconds: float | None = None
        self._llama: Llama | None = None
        self._lock = threading.Lock()
        self._prefiller: ThreadPoolExecutor | None = None
        self._prefills = 0  # a newer conversation to prefill makes an older one stale
        self._held = threading.Event()

    def stream_chat(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Generator[str, None, str | None]:
        """Yield the answer's pieces; return "length" if the token cap ended it. Holds the
        model until the generator finishes or is closed.

        Closing the generator early (or dropping it) stops generation at once.
        """
        with self._model() as llama:
            watch = _TokenProbabilities(llama)
            stream = llama.create_chat_completion(
                messages=list(messages),
                stream=True,
                max_tokens=max_tokens or self.config.max_tokens,
                temperature=self.config.temperature if temperature is None else temperature,
                top_p=self.config.top_p,
                logits_processor=[watch],
            )
            finish = None
            try:
                for chunk in stream:
                    choice = chunk["choices"][0]
                    piece = choice["delta"].get("content")
                    if piece:
                        yield Piece(piece, watch.take())
                    finish = choice.get("finish_reason") or finish
                told = watch.take()  # the last piece's tokens, told by the end token's step
                if told:
                    yield Piece("", told)
            except ValueError as exc:  # "Requested tokens (N) exceed context window of M"
                raise LLMError(
                    f"the conversation does not fit the model's context ({exc}): "
                    "raise llm.num_ctx or lower agents.history_turns"
                ) from None
            except RuntimeError as exc:  # e.g. "llama_decode returned 1" (out of KV cache)
                raise LLMError(f"the embedded model failed: {exc}") from None
            finally:
                stream.close()
            return finish

    def warmup(self, system_prompts: Sequence[str] = (WARMUP_SYSTEM_PROMPT,)) -> None:
        """Load the model and evaluate each system prompt once (a 1-token answer).

        llama.cpp keeps the last evaluated prompt, so the first turn with the last
        of them (the app warms one: the general agent's) only evaluates what
        follows it. A lone string is one prompt.
        """
        with self._model():
            pass
        if isinstance(system_prompts, str):
            system_prompts = [system_prompts]
        for system_prompt in system_prompts:
            messages: list[ChatMessage] = [
                {"role": "system", "content": system_prompt},
                {"role": "user", "content": "Hi"},
            ]
            for _ in self.stream_chat(messages, max_tokens=1, temperature=0.0):
                pass

    def prefill(self, messages: Sequence[ChatMessage]) -> None:
        """Read `messages` (an agent's system prompt and the conversation so far) into the
        model's cache in the background, while nobody is talking.

        llama.cpp keeps the last prompt it read, and the next answer reads only what follows
        the part it shares with it. Turns a skill answered never passed through the model,
        and an answer is remembered as it was spoken, not as generated: a question after a
        few commands read the whole conversation first: on 2 cores, 40 to 100 tokens a
        second, a second or more for every few commands. Only a loaded model is prefilled;
        `hold_prefill` stops it within PREFILL_CHUNK tokens.
        """
        if self._llama is None:
            return
        self._prefills += 1
        self._held.clear()
        if self._prefiller is None:
            self._prefiller = ThreadPoolExecutor(1, thread_name_prefix="llm-prefill")
        self._prefiller.submit(self._prefill, list(messages), self._prefills)

    def hold_prefill(self) -> None:
        """Someone is speaking or typing: the cores are Whisper's and the answer's now."""
        self._held.set()

    def wait_prefilled(self, timeout_s: float = 60.0) -> None:
        """Wait for the prefill asked for last (benchmarks: the user listening to a reply)."""
        if self._prefiller is not None:
            self._prefiller.submit(lambda: None).result(timeout=timeout_s)

    def _prefill(self, messages: list[ChatMessage], prefill: int) -> None:
        # PREFILL_CHUNK tokens a call, each under the model's lock, so an answer or a hold
        # waits for one chunk at most; what the cache holds already is not read again.
        if self._held.wait(PREFILL_AFTER_S):
            return
        try:
            with self._model() as llama:
                tokens = _conversation_tokens(llama, messages)
            while tokens and not self._held.is_set() and prefill == self._prefills:
                with self._model() as llama:
                    read = llama.longest_token_prefix(llama.input_ids[: llama.n_tokens], tokens)
                    if read >= len(tokens):
                        return
                    llama.n_tokens = read  # eval() drops the cached tokens after this
                    llama.eval(tokens[read : read + PREFILL_CHUNK])
        except Exception as exc:  # noqa: BLE001 - the next answer reads it, and reports
            log.debug("prefilling the conversation failed: %s", exc)

    def close(self) -> None:
        """Stop prefilling and wait for it: the model must outlive the thread reading it."""
        self._held.set()
        if self._prefiller is not None:
            self._prefiller.shutdown(wait=True, cancel_futures=True)
            self._prefiller = None

    @contextmanager
    def _model(self) -> Iterator[Llama]:
        """The loaded model, held exclusively: a llama.cpp context is not thread-safe."""
        # A stream that is never closed keeps the lock; fail rather than hang forever.
        if not self._lock.acquire(timeout=self.config.timeout_s):
            raise LLMError(
                f"the embedded model is still busy after {self.config.timeout_s:g} s "
                "with an earlier answer that was never finished or closed"
            )
        try:
            if self._llama is None:
                start = time.perf_counter()
                self._llama = _open(self.model_path, self.config)
                self.load_seconds = time.perf_counter() - start
            yield self._llama
        finally:
            self._lock.release()


class _TokenProbabilities:
    """A logits processor that only watches: each sampled token's log-probability under the
    model's own distribution (before temperature and top-p). llama-cpp-python's `logprobs`
    needs `logits_all`, which keeps every position's logits (1.2 GB for a 2048-token
    context of Qwen's 152k vocabulary); this keeps one position's. The token sampled from
    one call's logits is the last input id of the next call."""

    def __init__(self, llama: Llama) -> None:
        self._llama = llama
        self._last: tuple[np.ndarray, float] | None = None
        self._told: list[Token] = []

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._last is not None:
            logits, norm = self._last
            token = int(input_ids[-1])
            text = self._llama.detokenize([token]).decode("utf-8", "replace")
            self._told.append((text, float(logits[token]) - norm))
        top = float(scores.max())
        self._last = (scores.copy(), top + math.log(float(np.exp(scores - top).sum())))
        return scores

    def take(self) -> list[Token]:
        """The tokens told since the last call."""
        told, self._told = self._told, []
        return told


def _conversation_tokens(llama: Llama, messages: list[ChatMessage]) -> list[int]:
    """The tokens `create_chat_completion` reads before the next question to `messages`:
    the model's own chat template without the assistant's opening. Only for a GGUF's own
    template (every model here); other formats are not prefilled."""
    template = llama.metadata.get("tokenizer.chat_template")
    own = llama.chat_handler is None and llama.chat_format == "chat_template.default"
    if not own or not template:
        return []
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:  # as Llama() gives them to its own formatter
        return llama._model.token_get_text(token) if token != -1 else ""

    formatter = Jinja2ChatFormatter(
        template=template,
        eos_token=text(llama.token_eos()),
        bos_token=text(llama.token_bos()),
        add_generation_prompt=False,
    )
    result = formatter(messages=messages)
    return llama.tokenize(
        result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
    )


def _resolve(model: str) -> Path | str:
    from voice_agent import models

    return models.resolve("llm", model)


def _llama_class() -> type[Llama]:
    try:
        from llama_cpp import Llama
    except ImportError:
        raise UserError(
            "the embedded LLM needs llama-cpp-python: run `pip install 'voice-agent[llamacpp]'`, "
            "or use Ollama (llm.backend: ollama)"
        ) from None
    return Llama


def _open(model: Path | str, config: LlmConfig) -> Llama:
    options = {
        "n_ctx": config.num_ctx,
        "n_threads": config.threads,
        "n_threads_batch": config.threads,
        "verbose": False,
    }
    if isinstance(model, str):
        return _download(_llama_class(), model, options)
    return _load(_llama_class(), model, options)


def _load(llama_class: type[Llama], path: Path, options: dict) -> Llama:
    if not path.is_file():
        raise ModelMissingError(f"LLM model file {path} is missing: check llm.model")
    try:
        llama = llama_class(model_path=str(path), **options)
    except (ValueError, RuntimeError, OSError):
        # llama-cpp-python says only "Failed to load model from file": find out what is wrong.
        check_gguf(path)
        raise ModelMissingError(
            f"llama.cpp cannot load {path}, though the file reads as a whole GGUF model: "
            "perhaps too little free memory; lower llm.num_ctx or choose a smaller llm.model"
        ) from None
    # No LlamaRAMCache: each saved state also copies the output scores (~90 MB on the
    # 0.5B) outside its byte cap, so memory grew with every answer. llama.cpp still
    # reuses the evaluated prefix of the previous prompt, which covers chat turns.
    return llama


def check_gguf(path: Path) -> None:
    """Raise ModelMissingError saying what is wrong when llama.cpp cannot read `path`.

    Reads the header, the vocabulary and the tensor table (which must fit in the file),
    not the weights: well under a second.
    """
    try:
        _llama_class()(model_path=str(path), vocab_only=True, verbose=False).close()
    except (ValueError, RuntimeError, OSError):
        raise ModelMissingError(
            f"cannot load {path}: {_damage(path)}; point llm.model at a good GGUF model"
        ) from None


def _damage(path: Path) -> str:
    try:
        with path.open("rb") as f:
            magic = f.read(len(GGUF_MAGIC))
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if not magic:
        return "the file is empty"
    if magic != GGUF_MAGIC:
        return "it is not a GGUF file"
    return "the file is damaged or cut short"


def _download(llama_class: type[Llama], name: str, options: dict) -> Llama:
    """Load `org/repo/file.gguf`, downloading it into the Hugging Face hub cache first."""
    from voice_agent import models

    repo_id, filename = models.hub_gguf(name)  # models.resolve gives a str only for these
    try:
        return llama_class.from_pretrained(
            repo_id=repo_id,
            filename=filename,
            cache_dir=os.environ.get("HF_HUB_CACHE"),  # as models.resolve looks it up
            **options,
        )
    except Exception as exc:  # httpx, huggingface_hub, fsspec and llama.cpp share no base
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelMissingError(
            f"cannot get LLM {name} from the Hugging Face hub ({reason}): the first use "
            "needs internet; or download the file yourself and register it with "
            "`voice-agent models add PATH`"
        ) from None
