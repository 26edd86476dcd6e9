"""The steady clock that puts the speaker's and the microphone's audio on one time line."""

from __future__ import annotations

import numpy as np
import pytest

from voice_agent.audio.clock import SampleClock

RATE = 16000
BLOCK = 320  # 20 ms


def stamps(clock: SampleClock, measured: list[float]) -> np.ndarray:
    return np.array([clock.stamp(m, BLOCK) for m in measured])


def test_recording_times_measured_late_with_jitter_come_out_steady():
    """Callbacks run 1-15 ms after their audio was recorded: the stamps follow the sample
    count, never jump, and are never early."""
    rng = np.random.default_rng(3)
    true = 100.0 + np.arange(500) * BLOCK / RATE
    measured = true + rng.uniform(0.001, 0.015, len(true))
    clock = SampleClock(RATE, late=True, ahead_s=0.02, behind_s=0.06)
    got = stamps(clock, list(measured))
    assert np.allclose(np.diff(got), BLOCK / RATE)  # one block apart, every time
    assert (got >= true - 1e-9).all() and (got - true).max() < 0.016


def test_recording_clock_follows_lost_samples():
    """Audio lost in a stall (the callback's samples no longer add up) moves the clock once."""
    true = list(50.0 + np.arange(300) * BLOCK / RATE)
    lost = [t + 0.1 for t in true[-150:]]  # 100 ms of audio never arrived
    clock = SampleClock(RATE, late=True, ahead_s=0.02, behind_s=0.06)
    got = stamps(clock, true[:150] + lost)
    jumps = np.flatnonzero(np.abs(np.diff(got) - BLOCK / RATE) > 1e-6)
    assert len(jumps) == 1 and got[-1] == pytest.approx(lost[-1], abs=1e-6)


def test_playing_times_follow_on_and_move_only_after_an_underrun():
    """Writes are heard after what was queued before them: a burst that fills the buffer is
    stamped one after another, and only a write made after its audio was due (the speaker
    ran dry) moves the clock later."""
    clock = SampleClock(RATE, late=False, ahead_s=0.008)
    burst = [clock.stamp(10.0, BLOCK) for _ in range(5)]  # five blocks written at once
    assert np.allclose(np.diff(burst), BLOCK / RATE) and burst[0] == 10.0
    on_time = clock.stamp(10.05, BLOCK)  # written while 50 ms were still queued
    assert on_time == pytest.approx(10.1)
    after_underrun = clock.stamp(10.4, BLOCK)  # due at 10.12, written at 10.4
    assert after_underrun == pytest.approx(10.4)
    clock.restart()
    assert clock.stamp(20.0, BLOCK) == 20.0
