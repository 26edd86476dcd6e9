"""The report writer, the targets verdicts, the stage split and the baseline check."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from benchmarks import check, report
from benchmarks.e2e import expected_patterns, grade, stage_durations, summarize


def e2e_profile(first_audio: float, rss: float) -> dict:
    turn = {
        "ok": True,
        "timings": {
            "end_of_turn_ms": 300,
            "stt_ms": 800,
            "route_ms": 801,
            "first_token_ms": 900,
            "first_audio_ms": first_audio,
            "total_ms": first_audio + 500,
        },
    }
    mode = summarize([turn, {**turn, "ok": False}])
    return {
        "streaming": mode,
        "no_streaming": mode,
        "peak_rss_mb": rss,
        "startup_s": 4.0,
        "correct_fraction": 0.5,
        "streaming_speedup": 1.0,
    }


RESULTS = {
    "e2e": {
        "commands": 2,
        "profiles": {
            "speed": e2e_profile(950, 900),
            "balanced": e2e_profile(2500, 2100),
            "quality": e2e_profile(6000, 5000),
        },
    },
    "routing": {
        "n_typed": 10,
        "n_transcribed": 4,
        "typed": {
            "rules_only": {
                "accuracy": 0.93,
                "macro_f1": 0.94,
                "no_specialist_right": 0.96,
                "p50_ms": 0.05,
                "p95_ms": 0.1,
            },
        },
        "transcribed": {},
    },
    "stt": {
        "settings": [
            {
                "model": "tiny.en",
                "beam_size": 1,
                "profile_settings": "speed",
                "load_s": 0.5,
                "wer_all": 0.1,
                "rtf_all": 0.2,
                "datasets": {"librivox": {"wer": 0.07, "rtf": 0.2, "p50_ms": 500, "n": 2}},
            }
        ]
    },
    "llm": {
        "models": [
            {
                "backend": "llamacpp",
                "model": "qwen2.5-coder-1.5b",
                "load_s": 0.5,
                "ttft_cold_ms": 700,
                "ttft_p50_ms": 120,
                "ttft_p95_ms": 200,
                "tokens_per_s": 40.0,
                "answers_correct": "3/3",
                "tool_json_valid": 1.0,
                "tool_json_correct": 0.9,
            }
        ],
        "skipped": [],
    },
    "tts": {
        "engines": [
            {
                "engine": "pyttsx3",
                "settings": "pyttsx3 rate 220",
                "load_ms": 40,
                "first_audio_p50_ms": 15,
                "first_audio_p95_ms": 30,
                "rtf": 0.004,
            }
        ]
    },
}


def test_stage_split_is_the_difference_of_cumulative_timings():
    stages = stage_durations(
        {
            "end_of_turn_ms": 300,
            "stt_ms": 800,
            "route_ms": 801,
            "first_token_ms": 900,
            "first_audio_ms": 950,
        }
    )
    assert stages == pytest.approx(
        {"end_of_turn": 300, "stt": 500, "routing": 1, "agent": 99, "tts": 50}
    )
    assert "tts" not in stage_durations({"end_of_turn_ms": 300, "stt_ms": 800})


def test_verdicts_follow_target_and_acceptable():
    assert report.verdict(1999, 2000, 5000) == "pass"
    assert report.verdict(2000, 2000, 5000) == "acceptable"
    assert report.verdict(5000, 2000, 5000) == "fail"
    assert report.verdict(None, 2000, 5000) == "n/a"


def test_targets_table_takes_each_profile_from_the_right_section():
    rows = {row["metric"]: row for row in report.targets_table(RESULTS)}
    assert rows["voice response"]["speed"] == {"value": 950, "verdict": "pass"}
    assert rows["voice response"]["balanced"]["verdict"] == "acceptable"
    assert rows["voice response"]["quality"]["verdict"] == "fail"
    assert rows["memory"]["balanced"] == {"value": 2100, "verdict": "acceptable"}
    assert rows["STT"]["speed"]["value"] == 500
    assert rows["LLM first token"]["speed"]["value"] == 120, "the profile's model row"
    assert rows["LLM first token"]["quality"]["value"] == 120, "every profile runs the 1.5B"
    assert rows["TTS first audio"]["speed"]["value"] == 15
    assert rows["TTS first audio"]["balanced"]["verdict"] == "n/a", "rate 185 not measured here"


def test_report_writes_json_markdown_and_charts(tmp_path):
    meta = report.meta(quick=True, durations={"e2e": 12.3})
    paths = report.write(RESULTS, meta, tmp_path)
    document = json.loads(paths["json"].read_text())
    assert document["meta"]["machine"]["cores"] >= 1 and document["meta"]["quick"] is True
    assert document["meta"]["model_sha256"]["llm/qwen2.5-coder-0.5b"].startswith("1d961463")
    assert document["e2e"]["profiles"]["speed"]["peak_rss_mb"] == 900
    md = paths["md"].read_text()
    assert (
        "| voice response | < 2000 ms | < 5000 ms | 950 pass | 2500 acceptable | 6000 fail |" in md
    )
    assert paths["json"].name == "latest-quick.json", "a quick run keeps the full results"
    for image in ("e2e_stages-quick.png", "routing-quick.png", "stt-quick.png"):
        assert (tmp_path / image).stat().st_size > 5000
        assert f"![{image}]({image})" in md


def test_sections_kept_from_earlier_runs_name_the_run_that_measured_them(tmp_path, monkeypatch):
    from benchmarks import run

    monkeypatch.setattr(report, "RESULTS", tmp_path)
    older = report.meta(quick=False, durations={"e2e": 180.0})
    older |= {"date": "2026-11-21T14:19:00+00:00", "commit": "f9320b7"}
    report.write({"e2e": RESULTS["e2e"]}, older, tmp_path)

    kept, took, runs = run.previous_sections(quick=False)
    newer = report.meta(quick=False, durations={**took, "llm": 50.0}, earlier=runs)
    report.write({**kept, "llm": RESULTS["llm"]}, newer, tmp_path)
    md = (tmp_path / "latest.md").read_text()
    cpu = older["machine"]["cpu"]
    assert f"e2e (2026-11-21, commit f9320b7, {cpu})" in md

    _, _, runs = run.previous_sections(quick=False)  # a third run keeps the first's label
    assert runs["e2e"]["commit"] == "f9320b7" and runs["llm"]["commit"] == newer["commit"]


def test_check_flags_regressions_by_ratio(tmp_path):
    tolerances = {
        "e2e.profiles.*.streaming.first_audio_median_ms": {"better": "lower", "ratio": 1.5},
        "llm.models.*.tokens_per_s": {"better": "higher", "ratio": 1.5},
    }
    slower = json.loads(json.dumps(RESULTS))
    slower["e2e"]["profiles"]["speed"]["streaming"]["first_audio_median_ms"] = 1500  # 1.58x
    slower["llm"]["models"][0]["tokens_per_s"] = 30.0  # within 1.5x
    rows = {r["metric"]: r for r in check.compare(slower, RESULTS, tolerances)}
    assert rows["e2e.profiles.speed.streaming.first_audio_median_ms"]["regressed"]
    assert not rows["e2e.profiles.balanced.streaming.first_audio_median_ms"]["regressed"]
    assert not rows["llm.models.qwen2.5-coder-1.5b/llamacpp.tokens_per_s"]["regressed"]

    for name, data in (("latest", slower), ("baseline", RESULTS)):
        (tmp_path / f"{name}.json").write_text(json.dumps({"meta": {"quick": True}, **data}))
    (tmp_path / "tol.yaml").write_text(json.dumps(tolerances))
    args = [
        "--latest",
        str(tmp_path / "latest.json"),
        "--baseline",
        str(tmp_path / "baseline.json"),
        "--tolerances",
        str(tmp_path / "tol.yaml"),
    ]
    assert check.main(args) == 1
    assert check.main([*args[:2], "--baseline", str(tmp_path / "latest.json"), *args[4:]]) == 0


NOW = datetime(2026, 12, 20, 9, 59, 30, tzinfo=ZoneInfo("Europe/London"))


def answered(agent: str, answer: str) -> dict:
    return {"agent": agent, "answer": answer}


def test_e2e_right_means_the_fact_the_user_needs() -> None:
    tokyo = {"agent": "time", "expect": ["Tokyo", r"\b<TIME:Asia/Tokyo>\b"]}
    assert grade(tokyo, answered("time", "It's 6:59 PM in Tokyo."), False, NOW) == "right"
    assert grade(tokyo, answered("time", "It's 7:00 PM in Tokyo."), False, NOW) == "right"
    assert grade(tokyo, answered("time", "It's 3:10 PM in Tokyo."), False, NOW) == "wrong"
    assert grade(tokyo, answered("general", "It's 6:59 PM in Tokyo."), False, NOW) == "wrong"
    christmas = {"agent": "time", "expect": r"\b<DAYS_UNTIL:12-25>\b days? until Christmas"}
    assert grade(christmas, answered("time", "There are 5 days until Christmas."), False, NOW)
    assert expected_patterns({"expect": "<TODAY:%A>"}, NOW) == ["Sunday"]
    legs = {"agent": "general", "expect": r"\b(?:eight|8)\b", "reject": r"\b(?:six|6)\b"}
    assert grade(legs, answered("general", "Spiders have eight legs."), False, NOW) == "right"
    assert grade(legs, answered("general", "Six or eight legs."), False, NOW) == "wrong"


def test_e2e_weather_offline_is_counted_apart_only_when_offline_and_said() -> None:
    weather = {"agent": "weather", "expect": ["London", r"\d+ degrees"], "online": True}
    cannot = answered("weather", "I can't reach the weather service right now, so I can't check.")
    assert grade(weather, cannot, offline=True, now=NOW) == "offline"
    assert grade(weather, cannot, offline=False, now=NOW) == "wrong"
    vague = answered("weather", "Sorry, something went wrong.")
    assert grade(weather, vague, offline=True, now=NOW) == "wrong"
    real = answered("weather", "In London it's 7 degrees and cloudy.")
    assert grade(weather, real, offline=True, now=NOW) == "right"


def test_facts_grading_needs_the_fact_and_none_of_the_usual_wrong_answers() -> None:
    from benchmarks.facts import grade, load

    legs = {"expect": r"\b(?:eight|8)\b", "reject": r"\b(?:six|6)\b"}
    assert grade("A spider has eight legs.", legs) == "right"
    assert grade("Spiders have six or eight legs.", legs) == "wrong"
    assert grade("I'm not sure how many legs a spider has.", legs) == "unsure"
    assert grade("Spiders are arachnids.", legs) == "wrong"
    rows = load(quick=False)
    assert len(rows) >= 200 and len({r["question"] for r in rows}) == len(rows)
    topics = {"people", "places", "science", "history", "units", "howto"}
    assert {r["topic"] for r in rows} == topics


def test_facts_section_shows_each_profile_against_its_target() -> None:
    row = {
        "llm": "llamacpp:qwen2.5-coder-1.5b",
        "right_pct": 91.0,
        "unsure_pct": 1.0,
        "wrong_pct": 8.0,
        "by_topic": {"people": 90.0},
        "first_token_ms_p50": 700.0,
        "words_p50": 12,
        "sentences_max": 3,
    }
    text = report.markdown(
        {"facts": {"questions": 220, "profiles": {"balanced": row}, "models": {}}},
        report.meta(quick=True, durations={}),
        [],
        [],
    )
    assert "| profile balanced | llamacpp:qwen2.5-coder-1.5b | 91.0% | ≥90% |" in text
