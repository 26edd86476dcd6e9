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

It is asked once per pause. Asking again halfway through the wait was measured on real
speech (the 14 pocketsphinx-testdata clips, per profile): of the 9 ends first heard as
unfinished, 2 would have ended sooner (0 of the 30 paused synthetic halves cut, their words
guard them), so a second Whisper pass per pause is not worth it.
"""

from __future__ import annotations

from collections.abc import Callable

from voice_agent.audio.base import Utterance
from voice_agent.audio.turn_model import TurnModel
from voice_agent.audio.vad import Verdict
from voice_agent.language.endings import words_unfinished


class SemanticJudge:
    """Finished when the model's probability reaches `threshold` and the words (if
    transcribed) do not stop short. Either part may be absent: no model (semantic end of
    turn off, speculation only) counts as finished-sounding; no `transcribe`, as no words.

    `transcribe` gives the words of a turn's audio. When it fails, the failure is the
    verdict's `error`: that transcription was the turn's own, so the turn reports it rather
    than waiting on a failing recogniser twice. `prepare` makes the words ready for the turn
    while it may still go on (routing them: cheap and side-effect free; nothing is done
    until the turn is final), as the verdict's `plan`; it never raises."""

    def __init__(
        self,
        model: TurnModel | None,
        threshold: float,
        transcribe: Callable[[bytes], str] | None = None,
        prepare: Callable[[str], object] | None = None,
    ) -> None:
        self.model = model
        self.threshold = threshold
        self.transcribe = transcribe
        self.prepare = prepare

    def judge(self, utterance: Utterance) -> Verdict:
        probability = 1.0 if self.model is None else self.model.probability_finished(utterance.pcm)
        text, error = None, None
        if self.transcribe is not None:
            try:
                text = self.transcribe(utterance.pcm)
            except Exception as exc:  # noqa: BLE001 - the turn reports it (voice_loop.answer)
                error = exc
        # Prepared whatever the verdict: an unfinished-sounding turn may still end here.
        plan = self.prepare(text) if text and self.prepare is not None else None
        if probability < self.threshold:
            return Verdict(False, probability, text, "sounds unfinished", error, plan)
        if text is not None and words_unfinished(text):
            return Verdict(False, probability, text, "the words stop short", error, plan)
        return Verdict(True, probability, text, "finished", error, plan)
