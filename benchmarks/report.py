"""Write a benchmark run as benchmarks/results/latest.json, latest.md and PNG charts."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
PACKAGES = (
    "voice-agent",
    "faster-whisper",
    "ctranslate2",
    "llama_cpp_python",
    "sentence-transformers",
    "torch",
    "piper-tts",
    "pyttsx3",
    "webrtcvad-wheels",
    "ollama",
)
# (name, target, acceptable, unit) from DESIGN.md; lower is better for all of them.
TARGETS = (
    ("voice response", 2000, 5000, "ms"),
    ("routing", 500, 1000, "ms"),
    ("STT", 500, 1000, "ms"),
    ("LLM first token", 1000, 3000, "ms"),
    ("TTS first audio", 300, 800, "ms"),
    ("memory", 2048, 4096, "MB"),
)


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def model_checksums() -> dict:
    from voice_agent import models

    return {
        f"{spec.kind}/{spec.name}": spec.sha256
        for spec in models.REGISTRY.values()
        if getattr(spec, "sha256", None)
    }


def git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return done.stdout.strip()


def meta(quick: bool, durations: dict[str, float], earlier: dict | None = None) -> dict:
    """This run's record. `earlier`: the sections kept from earlier runs (`--only`), each
    with the date, commit and CPU of the run that measured it (None: not recorded)."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "commit": git_commit(),
        "machine": machine(),
        "versions": versions(),
        "model_sha256": model_checksums(),
        "section_seconds": {k: round(v, 1) for k, v in durations.items()},
        "earlier_sections": earlier or {},
    }


def origin(run_meta: dict) -> dict:
    """The date, commit and CPU of a run: what an earlier section is labelled with."""
    return {k: run_meta[k] for k in ("date", "commit")} | {"cpu": run_meta["machine"]["cpu"]}


def _earlier_lines(run_meta: dict) -> list[str]:
    earlier = run_meta.get("earlier_sections") or {}
    if not earlier:
        return []
    runs: dict[str, list[str]] = {}
    for name, run in earlier.items():
        label = (
            f"{run['date'][:10]}, commit {run['commit']}, {run['cpu']}"
            if run
            else "a run not recorded"
        )
        runs.setdefault(label, []).append(name)
    return [
        "",
        "Sections kept from earlier runs (`--only` re-measures some): "
        + "; ".join(f"{', '.join(names)} ({label})" for label, names in runs.items())
        + ".",
    ]


# -- targets -----------------------------------------------------------------------------------
def profile_measurements(results: dict) -> dict[str, dict[str, float | None]]:
    """Each profile's median for every target, taken from the sections that measure it."""
    from voice_agent.config import PROFILE_NAMES, load_settings

    measured = {}
    for profile in PROFILE_NAMES:
        settings = load_settings(profile)
        e2e = results.get("e2e", {}).get("profiles", {}).get(profile, {})
        stages = e2e.get("streaming", {}).get("stages", {})
        llm = _find(results.get("llm", {}).get("models", []), model=settings.llm.model)
        tts = _find(
            results.get("tts", {}).get("engines", []), settings=_tts_settings_label(settings.tts)
        )
        measured[profile] = {
            "voice response": e2e.get("streaming", {}).get("first_audio_median_ms"),
            "routing": stages.get("routing", {}).get("median_ms"),
            "STT": stages.get("stt", {}).get("median_ms"),
            "LLM first token": llm.get("ttft_p50_ms") if llm else None,
            "TTS first audio": tts.get("first_audio_p50_ms") if tts else None,
            "memory": e2e.get("peak_rss_mb"),
        }
    return measured


def _tts_settings_label(tts) -> str:
    """How tts_bench names an engine setting, e.g. 'pyttsx3 rate 220' or 'piper joe 1.0'."""
    if tts.engine == "piper":
        return f"piper {tts.piper_voice} length_scale {tts.length_scale}"
    return f"pyttsx3 rate {tts.rate}"


def _find(rows: list[dict], **match) -> dict | None:
    for row in rows:
        if all(row.get(k) == v for k, v in match.items()):
            return row
    return None


def verdict(value: float | None, target: float, acceptable: float) -> str:
    if value is None:
        return "n/a"
    return "pass" if value < target else ("acceptable" if value < acceptable else "fail")


def targets_table(results: dict) -> list[dict]:
    measured = profile_measurements(results)
    rows = []
    for name, target, acceptable, unit in TARGETS:
        row = {
            "metric": name,
            "target": f"< {target} {unit}",
            "acceptable": f"< {acceptable} {unit}",
        }
        for profile, values in measured.items():
            value = values[name]
            row[profile] = {"value": value, "verdict": verdict(value, target, acceptable)}
        rows.append(row)
    return rows


# -- charts ------------------------------------------------------------------------------------
def charts(results: dict, folder: Path, suffix: str = "") -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for stem, draw in (
        ("e2e_stages", _e2e_chart),
        ("routing", _routing_chart),
        ("stt", _stt_chart),
    ):
        name = f"{stem}{suffix}.png"
        fig = draw(plt, results)
        if fig is not None:
            fig.tight_layout()
            fig.savefig(folder / name, dpi=110)
            plt.close(fig)
            written.append(name)
    return written


def _e2e_chart(plt, results):
    from benchmarks.e2e import STAGES

    profiles = results.get("e2e", {}).get("profiles", {})
    if not profiles:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels, bottoms = [], []
    bars = [(p, mode) for p in profiles for mode in ("streaming", "no_streaming")]
    bottoms = [0.0] * len(bars)
    for stage in STAGES:
        heights = [
            profiles[p][mode]["stages"].get(stage, {}).get("median_ms", 0) / 1000
            for p, mode in bars
        ]
        ax.bar(range(len(bars)), heights, bottom=bottoms, label=stage.replace("_", " "))
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    labels = [f"{p}\n{'stream' if m == 'streaming' else 'whole answer'}" for p, m in bars]
    ax.set_xticks(range(len(bars)), labels, fontsize=8)
    ax.axhline(2.0, color="grey", linestyle="--", linewidth=1, label="target 2 s")
    ax.set_ylabel("seconds after the user stops speaking (median)")
    ax.set_title("End of speech → first reply audio, by stage")
    ax.legend(fontsize=8)
    return fig


def _routing_chart(plt, results):
    routing = results.get("routing", {})
    if not routing.get("typed"):
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy, r in routing["typed"].items():
        ax.scatter(r["p50_ms"], r["accuracy"], s=60, label=f"{strategy} (typed)")
        ax.annotate(strategy, (r["p50_ms"], r["accuracy"]), fontsize=8)
    for profile, t in routing.get("transcribed", {}).items():
        for strategy, r in t.get("strategies", {}).items():
            ax.scatter(r["p50_ms"], r["accuracy"], marker="x", label=f"{strategy} ({profile} ASR)")
    ax.set_xscale("log")
    ax.set_xlabel("p50 latency per utterance (ms, log)")
    ax.set_ylabel("accuracy")
    ax.set_title("Routing: accuracy against latency")
    ax.legend(fontsize=7)
    return fig


def _stt_chart(plt, results):
    settings = results.get("stt", {}).get("settings", [])
    if not settings:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s in settings:
        label = f"{s['model']} beam {s['beam_size']}"
        for dataset, d in s.get("datasets", {}).items():
            ax.scatter(d["rtf"], d["wer"], s=30)
            ax.annotate(f"{label}: {dataset}", (d["rtf"], d["wer"]), fontsize=6)
    ax.set_xlabel("real-time factor (lower is faster)")
    ax.set_ylabel("word error rate")
    ax.set_title("Speech to text: WER against speed")
    return fig


# -- markdown ----------------------------------------------------------------------------------
def _ms(value) -> str:
    return "–" if value is None else f"{value:.0f}"


def markdown(results: dict, run_meta: dict, targets: list[dict], images: list[str]) -> str:
    m = run_meta["machine"]
    profiles = (
        [k for k in targets[0] if k not in ("metric", "target", "acceptable")] if targets else []
    )
    lines = [
        f"# Benchmark results{' (quick)' if run_meta['quick'] else ''}",
        "",
        f"{run_meta['date']} · commit {run_meta['commit']} · {m['cores']} cores, {m['cpu']}, "
        f"{m['memory_gb']} GB · Python {m['python']}",
        *_earlier_lines(run_meta),
        "",
        "## Targets (medians)",
        "",
        "| metric | target | acceptable | " + " | ".join(profiles) + " |",
        "|---|---|---|" + "---|" * len(profiles),
    ]
    for row in targets:
        cells = [f"{_ms(row[p]['value'])} {row[p]['verdict']}" for p in profiles]
        lines.append(
            f"| {row['metric']} | {row['target']} | {row['acceptable']} | "
            + " | ".join(cells)
            + " |"
        )
    lines += _e2e_section(results) + _routing_section(results) + _stt_section(results)
    lines += _llm_section(results) + _tts_section(results) + _conversation_section(results)
    lines += _actions_section(results) + _facts_section(results) + _wyoming_section(results)
    if "turn_taking" in results:
        from benchmarks.turn_taking import markdown as turn_markdown

        lines += ["", "## Turn-taking (semantic end of turn, speculative transcription)", ""]
        lines += turn_markdown(results["turn_taking"])
    if "echo" in results:
        from benchmarks.echo import markdown as echo_markdown

        lines += ["", "## Echo and barge-in (open speakers, simulated)", ""]
        lines += echo_markdown(results["echo"])
    if "wake" in results:
        from benchmarks.wake import markdown as wake_markdown

        lines += ["", "## Wake word (false wakes per hour, detection)", ""]
        lines += wake_markdown(results["wake"])
    if images:
        lines += ["", "## Charts", ""] + [f"![{name}]({name})" for name in images]
    lines += [
        "",
        "## Versions",
        "",
        ", ".join(f"{k} {v}" for k, v in run_meta["versions"].items() if v),
    ]
    lines += [
        "",
        "Model sha256: " + ", ".join(f"{k} {v[:12]}" for k, v in run_meta["model_sha256"].items()),
    ]
    return "\n".join(lines) + "\n"


def _e2e_section(results: dict) -> list[str]:
    from benchmarks.e2e import STAGES

    profiles = results.get("e2e", {}).get("profiles", {})
    if not profiles:
        return []
    lines = [
        "",
        "## End to end: end of speech → first reply audio",
        "",
        f"{results['e2e']['commands']} spoken commands per profile (Piper and espeak-ng voices), "
        "median ms per stage; streaming speaks each sentence as soon as it is generated, "
        "'whole answer' waits for all of it. 'right' means the agent and every fact the "
        "command needs (the number, the time in that city, today's date, the note's lines); "
        "weather commands in a run with no internet are counted apart, as 'offline', when "
        "the answer says the weather service can't be reached.",
        "",
        "| profile | mode | "
        + " | ".join(s.replace("_", " ") for s in STAGES)
        + " | first audio p50 | p95 | right | offline |",
        "|---|---|" + "---|" * (len(STAGES) + 4),
    ]
    for profile, r in profiles.items():
        for mode in ("streaming", "no_streaming"):
            m = r[mode]
            stages = [_ms(m["stages"].get(s, {}).get("median_ms")) for s in STAGES]
            lines.append(
                f"| {profile} | {'streaming' if mode == 'streaming' else 'whole answer'} | "
                + " | ".join(stages)
                + f" | {_ms(m['first_audio_median_ms'])} | {_ms(m['first_audio_p95_ms'])} | "
                f"{m['correct']}/{m['n'] - m.get('offline', 0)} | {m.get('offline', 0)} |"
            )
    lines += [
        "",
        "| profile | whole answer ÷ streaming (first audio) | start-up to ready | peak RSS |",
        "|---|---|---|---|",
    ]
    for profile, r in profiles.items():
        speedup = r.get("streaming_speedup")
        lines.append(
            f"| {profile} | {speedup:.2f}× | {r['startup_s']:.1f} s | {r['peak_rss_mb']:.0f} MB |"
            if speedup
            else f"| {profile} | – | {r['startup_s']:.1f} s | {r['peak_rss_mb']:.0f} MB |"
        )
    return lines


def _routing_section(results: dict) -> list[str]:
    routing = results.get("routing", {})
    if not routing.get("typed"):
        return []
    lines = [
        "",
        "## Routing",
        "",
        "Typed: the labelled set as written; transcribed: a stratified sample spoken by a TTS "
        "voice and transcribed with each profile's Whisper settings (n per row).",
        "",
        "| input | strategy | n | accuracy | macro-F1 | no specialist ✓ | p50 ms | p95 ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [("typed", s, r) for s, r in routing["typed"].items()]
    for profile, t in routing.get("transcribed", {}).items():
        rows += [
            (f"ASR {profile} (WER {t.get('wer', 0):.2f})", s, r) for s, r in t["strategies"].items()
        ]
    for source, strategy, r in rows:
        lines.append(
            f"| {source} | {strategy} | {r.get('n', '–')} | {r['accuracy']:.3f} | "
            f"{r['macro_f1']:.3f} | "
            f"{r['no_specialist_right']:.3f} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} |"
        )
    return lines


def _stt_section(results: dict) -> list[str]:
    settings = results.get("stt", {}).get("settings", [])
    if not settings:
        return []
    datasets = sorted({d for s in settings for d in s.get("datasets", {})})
    lines = [
        "",
        "## Speech to text (WER / real-time factor)",
        "",
        "| setting | load s | " + " | ".join(datasets) + " |",
        "|---|---|" + "---|" * len(datasets),
    ]
    for s in settings:
        cells = []
        for d in datasets:
            v = s["datasets"].get(d)
            cells.append(f"{v['wer']:.3f} / {v['rtf']:.2f}" if v else "–")
        lines.append(
            f"| {s['model']} beam {s['beam_size']} ({s.get('profile_settings', '')}) | "
            f"{s.get('load_s', 0):.1f} | " + " | ".join(cells) + " |"
        )
    return lines


def _llm_section(results: dict) -> list[str]:
    rows = results.get("llm", {}).get("models", [])
    if not rows:
        return []
    lines = [
        "",
        "## LLM",
        "",
        "| backend | model | load s | first token cold ms | warm p50 | p95 | "
        "tokens/s | answers | tool JSON valid | correct |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['model']} | {r['load_s']:.2f} | {_ms(r.get('ttft_cold_ms'))} | "
            f"{_ms(r.get('ttft_p50_ms'))} | {_ms(r.get('ttft_p95_ms'))} | "
            f"{r['tokens_per_s']:.1f} | "
            f"{r.get('answers_correct', '–')} | {r['tool_json_valid']:.2f} | "
            f"{r['tool_json_correct']:.2f} |"
        )
    for skip in results.get("llm", {}).get("skipped", []):
        lines.append(f"\n{skip['backend']}: not measured ({skip['reason']})")
    return lines


def _tts_section(results: dict) -> list[str]:
    rows = results.get("tts", {}).get("engines", [])
    if not rows:
        return []
    lines = [
        "",
        "## Text to speech",
        "",
        "| engine | load ms | first audio p50 ms | p95 | RTF |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['settings']} | {_ms(r.get('load_ms'))} | {_ms(r['first_audio_p50_ms'])} | "
            f"{_ms(r.get('first_audio_p95_ms'))} | {r['rtf']:.3f} |"
        )
    return lines


def _conversation_section(results: dict) -> list[str]:
    profiles = results.get("conversations", {}).get("profiles", {})
    if not profiles:
        return []
    lines = [
        "",
        "## Conversations (benchmarks/data/conversations.yaml)",
        "",
        "| profile | typed right | spoken right | multi-step first audio p50 ms "
        "| multi-step typed total p50 ms |",
        "|---|---|---|---|---|",
    ]
    for name, r in profiles.items():
        typed, spoken = r["typed"], r["spoken"]
        lines.append(
            f"| {name} | {typed['right']}/{typed['n']} | {spoken['right']}/{spoken['n']} | "
            f"{_ms(spoken['multi_step_first_audio_median_ms'])} | "
            f"{_ms(typed['multi_step_total_median_ms'])} |"
        )
    kinds = sorted({k for r in profiles.values() for k in r["typed"]["by_kind"]})
    lines += [
        "",
        "| kind (typed) | " + " | ".join(profiles) + " |",
        "|---|" + "---|" * len(profiles),
    ]
    for kind in kinds:
        cells = [
            "{}/{}".format(*r["typed"]["by_kind"].get(kind, [0, 0])) for r in profiles.values()
        ]
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    wrong = [
        line for r in profiles.values() for how in ("typed", "spoken") for line in r[how]["wrong"]
    ]
    if wrong:
        lines += ["", "Wrong:", ""] + [f"- {line}" for line in wrong]
    return lines


def _actions_section(results: dict) -> list[str]:
    profiles = results.get("actions", {}).get("profiles", {})
    if not profiles:
        return []
    lines = [
        "",
        "## Actions it cannot take (benchmarks/data/actions.jsonl)",
        "",
        "| profile | action requests | false action claims | look-alikes | wrong refusals "
        "| honest by limits agent | by reply check | by the LLM itself |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in profiles.items():
        by = r["honest_by"]
        lines.append(
            f"| {name} | {r['actions']} | {r['false_action_claims']} | {r['lookalikes']} | "
            f"{r['wrong_refusals']} | {by['limits']} | {by['reply check']} | {by['llm']} |"
        )
    for name, r in profiles.items():
        lines += [f"- {name} claimed: {c['text']!r} → {c['answer']!r}" for c in r["claims"]]
        lines += [f"- {name} refused: {c['text']!r} → {c['answer']!r}" for c in r["refusals"]]
    return lines


FACTS_TARGETS = {"speed": 80, "balanced": 90, "quality": 95}  # % right, from issue 9


def _facts_section(results: dict) -> list[str]:
    facts = results.get("facts", {})
    rows = [("profile", name, r) for name, r in facts.get("profiles", {}).items()]
    rows += [("model", name, r) for name, r in facts.get("models", {}).items()]
    if not rows:
        return []
    lines = [
        "",
        f"## General knowledge (benchmarks/data/facts.jsonl, {facts['questions']} questions)",
        "",
        "Asked through the whole assistant, each as a first turn; 'model' rows are the balanced "
        "profile with that embedded model. Right: the expected fact and none of the usual "
        "wrong ones; unsure: says it does not know.",
        "",
        "| | LLM | right | target | unsure | wrong | first token p50 | words p50 | "
        "most sentences | right by topic |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, name, r in rows:
        target = f"≥{FACTS_TARGETS[name]}%" if kind == "profile" and name in FACTS_TARGETS else ""
        topics = ", ".join(f"{t} {v:.0f}%" for t, v in r["by_topic"].items())
        lines.append(
            f"| {kind} {name} | {r['llm']} | {r['right_pct']:.1f}% | {target} | "
            f"{r['unsure_pct']:.1f}% | {r['wrong_pct']:.1f}% | {_ms(r['first_token_ms_p50'])} | "
            f"{r['words_p50']:.0f} | {r['sentences_max']} | {topics} |"
        )
    return lines


def _wyoming_section(results: dict) -> list[str]:
    wy = results.get("wyoming")
    if not wy:
        return []
    lines = [
        "",
        f"## Wyoming (voice-agent serve, {wy['profile']} profile, over loopback)",
        "",
        f"{wy['commands']} spoken commands × {wy['rounds']} rounds, each in this process and "
        "through the server with the `wyoming` client (a connection per request).",
        "",
        "| request | in process p50 | loopback p50 | overhead |",
        "|---|---|---|---|",
    ]
    for kind in ("transcribe", "handle"):
        r = wy[kind]
        lines.append(
            f"| {kind} | {_ms(r['in_process_ms_p50'])} ms | {_ms(r['loopback_ms_p50'])} ms | "
            f"×{r['overhead_ratio']:.2f} ({r['overhead_ms']:+.0f} ms) |"
        )
    lines += [
        "",
        "Clients at once, each a spoken command (transcript, then answer) per round:",
        "",
        "| clients | requests | p50 | p95 | requests/s |",
        "|---|---|---|---|---|",
    ]
    for clients, r in wy["load"].items():
        lines.append(
            f"| {clients} | {r['requests']} | {_ms(r['p50_ms'])} ms | {_ms(r['p95_ms'])} ms | "
            f"{r['per_s']:.2f} |"
        )
    return lines


def write(results: dict, run_meta: dict, folder: Path = RESULTS) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    targets = targets_table(results)
    # A quick run must not overwrite the full results the README shows.
    suffix = "-quick" if run_meta["quick"] else ""
    images = charts(results, folder, suffix)
    document = {"meta": run_meta, "targets": targets, **results}
    paths = {"json": folder / f"latest{suffix}.json", "md": folder / f"latest{suffix}.md"}
    paths["json"].write_text(json.dumps(document, indent=1, default=str) + "\n")
    paths["md"].write_text(markdown(results, run_meta, targets, images))
    return paths
