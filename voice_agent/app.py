"""The wiring: every stage built from one profile, in one place, for the CLI, benchmarks and tests.

`build(settings)` gives an `App`: the store, agents and router now; the LLM, Whisper
and the voice when first used (or at `warmup`). A profile switch rebuilds what the
new profile changes and closes what it replaces.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from voice_agent.agents.registry import load_agents
from voice_agent.agents.runtime import Agent, LLMAgent, SkillAgent
from voice_agent.config import Settings, load_settings
from voice_agent.events import Event, TurnFinished
from voice_agent.health import Health
from voice_agent.llm.base import ChatMessage, LLMError
from voice_agent.llm.select import check_ollama_host
from voice_agent.orchestrator import Orchestrator
from voice_agent.routing.factory import build_router
from voice_agent.skills.base import Service, SkillContext, Told
from voice_agent.skills.registry import build_skill, services_of
from voice_agent.store import Store, StoreError
from voice_agent.turn import Turn

if TYPE_CHECKING:
    from voice_agent.audio.echo import EchoCanceller
    from voice_agent.audio.turn_model import SmartTurn
    from voice_agent.audio.vad import Segmenter
    from voice_agent.llm.base import LLM
    from voice_agent.stt import Transcript, WhisperSTT
    from voice_agent.tts.base import TTS

log = logging.getLogger(__name__)


class App:
    def __init__(
        self,
        settings: Settings,
        *,
        overrides: tuple[str, ...] = (),
        strategy: str | None = None,
        store: Store | None = None,
        stt: WhisperSTT | None = None,
        tts: TTS | None = None,
    ) -> None:
        check_ollama_host(settings.llm)  # a config mistake, told at start
        self.settings = settings
        self.overrides = overrides
        self.strategy = strategy
        self.store = store or Store(settings.store.path)
        if settings.store.keep_days:
            self.store.purge_turns(datetime.now(timezone.utc) - timedelta(settings.store.keep_days))
        self.health = Health()
        # Who hears announcements (fired timers): the chat prints them, the voice loop says them.
        self.announce: Callable[[str], None] = lambda message: None
        self.version = 0  # counts profile switches, so long-lived loops notice them
        self._unsaved = False  # the last turn could not be stored (the user was told)
        self.llm_used = False  # set whenever a stage asks for the LLM during a step
        self.llm_note = ""
        self._llm: LLM | None = None
        self._llm_lock = threading.Lock()
        self._stt = stt
        self._tts = tts
        self._turn_model: SmartTurn | None = None
        self._services: list[Service] = []
        self._services_on = False
        self.orchestrator = Orchestrator(self)
        self._build_agents()

    # -- the brain --------------------------------------------------------------------------
    def _build_agents(self) -> None:
        cfg = self.settings
        self.specs = load_agents(cfg.agents.enabled, cfg.routing.fallback_agent)
        self.router = build_router(cfg.routing, self.specs, self.strategy)
        sentences, unsure = cfg.llm.max_sentences, cfg.llm.unsure_below
        general = LLMAgent(self.specs[cfg.routing.fallback_agent], self.llm, sentences, unsure)
        self.agents: dict[str, Agent] = {}
        self._services = []
        for name, spec in self.specs.items():
            if spec.kind == "llm":
                self.agents[name] = LLMAgent(spec, self.llm, sentences, unsure)
                continue
            ctx = SkillContext(
                cfg,
                self.store,
                self.llm,
                self._announce,
                self.specs,
                spec,
                self.overrides,
                encoder=getattr(self.router, "encoder", None),
                conversation=lambda: self.orchestrator.conversation,
                recall=self._recall,
            )
            skill = build_skill(ctx)
            self._services += services_of(skill)
            self.agents[name] = SkillAgent(spec, skill, general)

    def _recall(self, phrase: str) -> list[Told]:
        """What memory holds about `phrase`, for skills that need the user's own facts."""
        memory = self.agents.get("memory")
        facts_about = getattr(getattr(memory, "skill", None), "facts_about", None)
        return facts_about(phrase) if facts_about is not None else []

    def llm(self) -> LLM:
        """The language model, selected and loaded on first use."""
        self.llm_used = True
        self.health.check("llm")
        with self._llm_lock:
            if self._llm is None:
                from voice_agent.llm.select import select_llm

                self._llm, self.llm_note = select_llm(self.settings.llm)
        return self._llm

    @property
    def llm_name(self) -> str | None:
        return self._llm.name if self._llm is not None else None

    # -- the voice --------------------------------------------------------------------------
    @property
    def stt(self) -> WhisperSTT:
        if self._stt is None:
            from voice_agent.stt_factory import build_stt

            vocabulary = [word for spec in self.specs.values() for word in spec.vocabulary]
            stt = build_stt(self.settings.stt, vocabulary, self._announce)
            stt.load()  # a missing model fails here, with the fix
            self._stt = stt
        return self._stt

    @property
    def tts(self) -> TTS:
        if self._tts is None:
            from voice_agent.tts.factory import build_tts

            self._tts = build_tts(self.settings.tts, self._announce)
        return self._tts

    def segmenter(self, realtime: bool = False) -> Segmenter:
        """The endpointer; `realtime` (a microphone) judges turns off the capture thread."""
        from voice_agent.audio.vad import Segmenter

        vad, judge = self.settings.vad, None
        if vad.semantic_turn or self.settings.stt.speculative:
            from voice_agent.audio.turn_judge import SemanticJudge

            model = self.turn_model if vad.semantic_turn else None
            hear = self.hear if self.settings.stt.speculative else None
            plan = self.orchestrator.plan_ahead if hear is not None else None
            judge = SemanticJudge(model, vad, hear, plan)
        return Segmenter(vad, self.settings.audio.frame_ms, judge=judge, realtime=realtime)

    def hear(self, pcm: bytes, context: str | None = None) -> Transcript:
        """What was said in a turn's audio, for the turn and for the endpointer and barge-in
        (in a pause). The recogniser is loaded on first use, as for any turn, so a broken one
        costs that turn (not the session); a resting one is not asked. The recogniser's
        context is `context`, or else a question the last answer asked."""
        self.health.check("stt")
        return self.stt.transcribe(pcm, context or self.orchestrator.asked())

    def transcribe(self, pcm: bytes, context: str | None = None) -> str:
        """The words of `hear`."""
        return self.hear(pcm, context).text

    @property
    def turn_model(self) -> SmartTurn:
        """The semantic end-of-turn model, loaded (and verified) on first use."""
        name = self.settings.vad.turn_model
        if self._turn_model is None or self._turn_model.model != name:
            from voice_agent.audio.turn_model import SmartTurn

            model = SmartTurn(name)
            model.load()  # a missing model fails here, with the fix
            self._turn_model = model
        return self._turn_model

    def echo_canceller(self) -> EchoCanceller | None:
        """A fresh canceller for one audio stream, or None with audio.echo_cancellation off."""
        if not self.settings.audio.echo_cancellation:
            return None
        from voice_agent.audio.echo import WebRtcEchoCanceller

        return WebRtcEchoCanceller()

    # -- life cycle -------------------------------------------------------------------------
    def warmup(self, voice: bool = False, llm: bool = True) -> None:
        """Load what the profile needs now, so the first real turn is not cold."""
        if voice:
            self.stt.warmup()
            self.tts.warmup()
            if self.settings.vad.semantic_turn:
                self.turn_model.probability_finished(bytes(3200))  # onnxruntime's first run
            if self.settings.audio.barge_in:
                from voice_agent.audio.voice_check import holds_voice

                holds_voice(bytes(3200))  # Silero's session: 0.5 s at the first barge-in
        skills = [getattr(agent, "skill", None) for agent in self.agents.values()]
        for warm in [getattr(part, "warmup", None) for part in (self.router, *skills)]:
            if warm is not None:
                warm()
        if llm and self.settings.llm.warmup:
            try:
                self.llm().warmup(self._llm_prompts())
            except LLMError as exc:
                # Warming up only saves the first turn time: that turn tries again, and
                # ends with one sentence if the model still fails.
                log.warning("LLM warm-up failed: %s", exc)
                self.llm_note = f"{self.llm_note}; warming it up failed: {exc}"
        self.llm_used = False

    def _llm_prompts(self) -> list[str]:
        """The LLM agents' system prompts exactly as they send them, so their prefix is
        cached; the last is the one the model keeps (the general agent's)."""
        return [s.system_prompt.strip() for s in self.specs.values() if s.kind == "llm"]

    def prefill_conversation(self, history: list[ChatMessage]) -> None:
        """Let a loaded model that can (llama.cpp) read the conversation ahead of the next
        question, in the background; Ollama's server keeps its own prompt cache."""
        prefill = getattr(self._llm, "prefill", None)
        prompts = self._llm_prompts()
        if prefill is not None and prompts:
            prefill([{"role": "system", "content": prompts[-1]}, *history])

    def hold_prefill(self) -> None:
        """A turn is starting: stop reading ahead."""
        hold = getattr(self._llm, "hold_prefill", None)
        if hold is not None:
            hold()

    def settle(self) -> None:
        """Wait for what a turn leaves running in the background (the LLM reading the
        conversation ahead): what a user listening to the reply gives it. For benchmarks,
        which play the next request at once."""
        wait = getattr(self._llm, "wait_prefilled", None)
        if wait is not None:
            wait()

    def start_services(self) -> None:
        """Background services of the skills (fired timers): long-running sessions only."""
        if not self._services_on:
            self._services_on = True
            for service in self._services:
                service.start()

    def _stop_services(self) -> None:
        if self._services_on:
            for service in self._services:
                service.stop()

    def _announce(self, message: str) -> None:
        # Looked up at call time: the chat or the voice loop sets `announce`.
        self.announce(message)

    def switch_profile(self, name: str) -> None:
        """Rebuild every stage the new profile changes; close the ones it replaces."""
        new = load_settings(name, self.overrides)
        old, voice_loaded = self.settings, self._stt is not None
        self._stop_services()
        self.settings, self.strategy = new, None
        if new.llm != old.llm:
            self._close_llm()
        if new.stt != old.stt:
            self._close_stt()
        if new.tts != old.tts and self._tts is not None:
            self._tts.close()
            self._tts = None
        self._build_agents()
        if voice_loaded:
            self.stt  # noqa: B018 - load the new Whisper now, not on the next utterance
        if self._services_on:
            for service in self._services:
                service.start()
        self.version += 1

    def _close_llm(self) -> None:
        with self._llm_lock:
            close = getattr(self._llm, "close", None)
            if close is not None:
                close()
            self._llm = None

    def _close_stt(self) -> None:
        close = getattr(self._stt, "close", None)  # a Wyoming engine's connection thread
        if close is not None:
            close()
        self._stt = None

    def close(self) -> None:
        self._stop_services()
        self._close_llm()
        self._close_stt()
        if self._tts is not None:
            self._tts.close()
        self.store.close()

    # -- turns ------------------------------------------------------------------------------
    def save(self, record: dict) -> None:
        """Store a finished turn; a store that fails costs the record, never the answer.

        The user is told once why turns are not being saved (a full disk), and again only
        if saving fails anew after it worked.
        """
        try:
            self.store.add_turn(record)
        except StoreError as exc:
            log.warning("could not store turn %s: %s", record.get("id"), exc)
            if not self._unsaved:
                self._announce(
                    f"I can't save our conversation right now ({exc}); I'll keep answering."
                )
            self._unsaved = True
        except Exception:  # noqa: BLE001 - the user already has the answer
            log.exception("could not store turn %s", record.get("id"))
        else:
            self._unsaved = False

    def turn(
        self, text: str, client: str | None = None, origin: float | None = None
    ) -> Iterator[Event]:
        """A typed request: the events of its answer, then exactly one TurnFinished.
        `client` names who asked over the network; `origin` is when the request arrived
        (a perf_counter), when it waited before being answered."""
        turn = Turn(
            text=text, profile=self.settings.name, session=self.orchestrator.session, client=client
        )
        if origin is not None:
            turn.origin = origin
        try:
            yield from self.orchestrator.answer(turn)
        except (GeneratorExit, KeyboardInterrupt):
            # Stopped wherever the answer was (planning, choosing tools, the agent itself):
            # the turn is still stored, marked cut short.
            turn.interrupted = True
            for _ in self.orchestrator.finish(turn):
                pass
            raise
        yield from self.orchestrator.finish(turn)

    def ask(self, text: str) -> Turn:
        for event in self.turn(text):
            if isinstance(event, TurnFinished):
                finished = event.turn
        return finished


def build(settings: Settings, **parts) -> App:
    """Every stage of `settings`' profile; `parts` (store, stt, tts, overrides, strategy)
    replace what would be built, as tests and benchmarks need."""
    return App(settings, **parts)
