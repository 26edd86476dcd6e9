"""Is the turn finished? The end-of-turn model's ear, and the words when they are known.

Asked by the Segmenter once a short silence begins (vad.py). Smart Turn hears whether
the speech *sounds* finished; on speech it was not trained on (synthetic voices, read-out
commands) it calls nearly every pause finished. So when speculative transcription is on
(`stt.speculative`), the words heard so far are transcribed now, in the pause, and a turn
whose words cannot end a request (a dangling "to", "and", "my", Whisper's trailing "...")
is not finished whatever it sounds like. The transcript is not wasted: it is routed in
the same pause (orchestrator.plan_ahead), and when the turn ends with no more speech, the
turn takes both (voice_loop.py). Skills run only then: their one call both answers and
acts (sets the timer, writes the note), so nothing of a skill is done ahead.

Words Whisper is unsure of (a mean log-probability below `vad.turn_unsure_logprob`) do not
end a turn either: a half sentence is where it guesses ("convert eight" heard as
"Commertate."), and a guess cannot tell a finished request from half of one. Measured on
the bench's paused sentences and spoken commands (tiny.en, three voices): 3 of the 7 halves
whose words looked finished were guesses below -0.8, against 1 of 54 whole commands (itself
misheard), which then waits for the longest silence.

It misjudges the other way too: of the bench's 24 spoken commands, "what can you do",
"what is the square root of 144", "list my timers" (espeak) and "convert five miles to
kilometers" (Piper) sound unfinished to it (0.02 to 0.46) even after a second of silence.
Whole-looking words alone do not overrule it: on real speech it is right (whole read
sentences 0.88-0.99, sentences cut at a word 0.01-0.11), and 3 of those 5 cut sentences end
in words that look whole ("...had then leisure to consider how much"). Words a skill that
only computes answers whole do (`Plan.answers`: "what is the square root of 144", not
"convert five miles", which asks "to what?"): such a turn is `whole`, and ends after
`vad.end_silence_ms`, when silence alone would end it, instead of the longest silence. Other
specialists are not tried ahead, and their words can be half a request: "what time is it
in… Tokyo" was heard "What time it is?", and ending it so cut the sentence. "list my
timers" and "what can you do" still wait. The other way round, words such a skill would
answer with a question, or cannot read ("convert 8": to what?), are half a request however
finished they sound, and wait like an unfinished turn.

It is asked once per pause. Asking again halfway through the wait was measured on real
speech (the 14 pocketsphinx-testdata clips, per profile): of the 9 ends first heard as
unfinished, 2 would have ended sooner (0 of the 30 paused synthetic halves cut, their words
guard them), so a second Whisper pass per pause is not worth it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from voice_agent.audio.base import Utterance
from voice_agent.audio.turn_model import TurnModel
from voice_agent.audio.vad import Verdict
from voice_agent.config import VadConfig
from voice_agent.language.endings import words_unfinished

if TYPE_CHECKING:
    from voice_agent.orchestrator import Plan
    from voice_agent.stt import Transcript


class SemanticJudge:
    """Finished when the model's probability reaches `vad.turn_threshold` and the words (if
    heard) do not stop short and are not a guess. Either part may be absent: no model
    (semantic end of turn off, speculation only) counts as finished-sounding; no `hear`, as
    no words.

    `hear` transcribes a turn's audio. When it fails, the failure is the verdict's `error`:
    that transcription was the turn's own, so the turn reports it rather than waiting on a
    failing recogniser twice. `prepare` makes the words ready for the turn while it may still
    go on (routing them: cheap and side-effect free; nothing is done until the turn is
    final), as the verdict's `plan`; it never raises."""

    def __init__(
        self,
        model: TurnModel | None,
        vad: VadConfig,
        hear: Callable[[bytes], Transcript] | None = None,
        prepare: Callable[[str], Plan | None] | None = None,
    ) -> None:
        self.model = model
        self.threshold = vad.turn_threshold
        self.unsure_logprob = vad.turn_unsure_logprob
        self.hear = hear
        self.prepare = prepare
        self._listener: ThreadPoolExecutor | None = None

    def judge(self, utterance: Utterance) -> Verdict:
        # The model (one thread, ~50 ms) listens while Whisper transcribes: the pause's
        # answer then waits for the slower of the two, not for both in turn.
        sounds = None
        if self.model is not None:
            if self._listener is None:
                self._listener = ThreadPoolExecutor(1, thread_name_prefix="turn-model")
            sounds = self._listener.submit(self.model.probability_finished, utterance.pcm)
        heard, error = None, None
        if self.hear is not None:
            try:
                heard = self.hear(utterance.pcm)
            except Exception as exc:  # noqa: BLE001 - the turn reports it (voice_loop.answer)
                error = exc
        probability = 1.0 if sounds is None else sounds.result()
        text = heard.text if heard is not None else None
        # Prepared whatever the verdict: an unfinished-sounding turn may still end here.
        plan = self.prepare(text) if text and self.prepare is not None else None
        stop_short = text is not None and words_unfinished(text)
        guess = heard is not None and bool(text) and heard.avg_logprob < self.unsure_logprob
        if probability < self.threshold:
            whole = not stop_short and not guess and plan is not None and plan.answers
            reason, finished = "sounds unfinished", False
        elif stop_short:
            whole, reason, finished = False, "the words stop short", False
        elif guess:
            whole, reason, finished = False, "the words are a guess", False
        elif plan is not None and plan.asks:
            whole, reason, finished = False, "a skill would ask for the rest", False
        else:
            whole, reason, finished = False, "finished", True
        return Verdict(finished, probability, text, reason, error, plan, whole, guess)
