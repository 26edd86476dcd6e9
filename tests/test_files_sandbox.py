"""The files sandbox under property-based tests (issue 10): over generated names and paths
(relative, absolute, `..`, encoded, unicode, NUL) and symlinks inside the root that point out
of it and to other places inside, the files skill never reads, lists, writes or creates
anything outside its root.

Three properties, each over requests the skill is really given (spoken, through `handle()`)
and over its path resolution directly:
- every file-system operation it makes (Python's audit events: open, listdir, scandir, mkdir,
  link, rename, remove, chmod, ...) is on a path that resolves inside the root;
- what is outside is never changed, and nothing new appears outside;
- its answer does not depend on what is outside: the same request against the same root,
  once with a populated outside folder and once with an empty one, gets the same answer.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from voice_agent.skills.base import Request, Result
from voice_agent.skills.files import FilesSkill, _Reply, _target_names

SECRET = "TOP-SECRET-OUTSIDE-MARKER"

# -- a sandbox with ways out ---------------------------------------------------------------------


def build_universe(base: Path, populated: bool) -> tuple[Path, Path]:
    """base/root (the sandbox) beside base/outside; with `populated`, the outside holds files."""
    root, outside = base / "root", base / "outside"
    (root / "notes").mkdir(parents=True)
    (root / "docs" / "deeper").mkdir(parents=True)
    (root / "groceries.txt").write_text("milk\neggs\n", encoding="utf-8")
    (root / "notes" / "todo.txt").write_text("call mom\n", encoding="utf-8")
    (root / "docs" / "report.md").write_text("# Report\nall good\n", encoding="utf-8")
    (root / "docs" / "deeper" / "plan.txt").write_text("step one\n", encoding="utf-8")
    (outside / "sub").mkdir(parents=True)
    (base / "root2").mkdir()  # a sibling whose name starts like the root's
    if populated:
        (outside / "secret.txt").write_text(f"{SECRET}\n", encoding="utf-8")
        (outside / "secret_list.txt").write_text(f"{SECRET}\n", encoding="utf-8")
        (outside / "sub" / "deep_secret.txt").write_text(f"{SECRET}\n", encoding="utf-8")
        (outside / "groceries.txt").write_text(f"{SECRET}\n", encoding="utf-8")
        (base / "root2" / "secret.txt").write_text(f"{SECRET}\n", encoding="utf-8")
    links = {
        "escape.txt": outside / "secret.txt",  # a file outside (dangling when not populated)
        "escape_dir": outside,  # the outside folder
        "up": Path(".."),  # relative: the folder above the root
        "system": Path("/etc"),
        "inside_link.txt": root / "groceries.txt",  # a file inside
        "inside_dir": root / "docs",  # a folder inside
        "loop": Path("loop"),  # points at itself
        "notes/escape_note.txt": outside / "secret_list.txt",  # an append target outside
        "notes/out": outside / "sub",
        "docs/sibling": base / "root2",
    }
    for name, target in links.items():
        (root / name).symlink_to(target)
    return root, outside


def snapshot(folder: Path) -> dict[str, tuple[str, bytes | str]]:
    """Every entry under `folder` (symlinks not followed): its kind and content or target."""
    found: dict[str, tuple[str, bytes | str]] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(folder))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", b"")
            else:
                found[rel] = ("file", path.read_bytes())
    return found


# -- watching every file-system operation ---------------------------------------------------------

_PATH_EVENTS = {
    "open": (0,),
    "os.listdir": (0,),
    "os.scandir": (0,),
    "os.mkdir": (0,),
    "os.rmdir": (0,),
    "os.remove": (0,),
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "shutil.copyfile": (0, 1),
    "shutil.rmtree": (0,),
}
_watching: dict[str, object] = {"thread": None, "events": None}


def _audit(event: str, args: tuple) -> None:
    if _watching["thread"] != threading.get_ident() or event not in _PATH_EVENTS:
        return
    for index in _PATH_EVENTS[event]:
        path = args[index] if index < len(args) else None
        if isinstance(path, (str, bytes, os.PathLike)):
            _watching["events"].append((event, os.fsdecode(path)))


sys.addaudithook(_audit)  # for the whole session; it records only inside watched()
_PYTHON = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(__file__).parents[1])})


@contextmanager
def watched() -> Iterator[list[tuple[str, str]]]:
    """The file-system operations of this thread, on anything but Python's own files."""
    events: list[tuple[str, str]] = []
    _watching.update(thread=threading.get_ident(), events=events)
    try:
        yield events
    finally:
        _watching.update(thread=None, events=None)
        events[:] = [(e, p) for e, p in events if not os.path.abspath(p).startswith(_PYTHON)]


def inside(path: str | Path, root: Path) -> bool:
    """Whether `path`, every symlink followed, is under `root`; a symlink loop counts as
    outside (nothing can be read through one)."""
    try:
        real = Path(os.path.abspath(path)).resolve()
    except (OSError, RuntimeError):
        return False
    return real == root.resolve() or root.resolve() in real.parents


# -- what is said to it -------------------------------------------------------------------------

_ATOMS = [
    "..", ".", "", "~", "/", "//", "escape.txt", "escape_dir", "up", "system", "loop",
    "inside_link.txt", "inside_dir", "notes", "docs", "deeper", "out", "sibling", "secret.txt",
    "secret", "deep_secret", "outside", "root2", "groceries", "todo", "report", "plan.txt",
    "escape_note", "etc", "passwd", "hostname", "%2e%2e", "%252e%252e", "..%2f", "%2f",
    "\u2025", "\uff0e\uff0e", "\u2026", "\uff45\uff53\uff43\uff41\uff50\uff45", "escape dot txt",
    "secret dot t x t", "..\\..", "C:", "\x00", "notes/../..", "~root", "$HOME",
]  # fmt: skip
_ALPHABET = st.characters(
    codec="utf-8", categories=["L", "N", "P", "S", "Zs"], include_characters="./\\%~\x00-_"
)
SEGMENT = st.one_of(st.sampled_from(_ATOMS), st.text(_ALPHABET, max_size=12))


@st.composite
def _typed(draw) -> str:
    parts = draw(st.lists(SEGMENT, min_size=1, max_size=4))
    lead = draw(st.sampled_from(["", "", "/", "~/", "{outside}/", "{root}/", "../"]))
    return lead + "/".join(parts)


# Through a symlink out of the root, to something that is there only in the populated outside.
_THROUGH = st.tuples(
    st.sampled_from(["escape_dir", "escape_dir/sub", "up/outside", "notes/out", "docs/sibling"]),
    st.sampled_from(["secret.txt", "secret_list.txt", "deep_secret.txt", "groceries.txt", "sub"]),
).map("/".join)


def names() -> st.SearchStrategy[str]:
    """A file or folder name as someone might say or type it, or as an attacker would."""
    return st.one_of(_typed(), _THROUGH)


TEMPLATES = [
    "read {n}", "read the file {n}", "read my {n} note", "open {n}", "what does {n} say",
    "what's in {n}", "list the files in {n}", "show me the files in the {n} folder",
    "list everything in {n}", "find files named {n}", "search for {n}", "where is {n}",
    "make a note called {n} saying hello", "create a note called {n}", "take a note: {n}",
    "add bread to {n}", "add bread to my {n} note", "add milk to the {n} list",
    "save it to {n}", "save it in a note called {n}", "save hello world in my {n} notes",
    "delete {n}", "write down {n}", "list my notes", "list my files",
]  # fmt: skip


def said(template: str, name: str, base: Path) -> str:
    name = name.replace("{outside}", str(base / "outside")).replace("{root}", str(base / "root"))
    return template.replace("{n}", name)


def answer(skill: FilesSkill, text: str) -> Result | None:
    return skill.handle(Request(text, spoken=True, previous=Result("hello world")))


# -- the properties -----------------------------------------------------------------------------


@settings(max_examples=250, deadline=None)
@given(template=st.sampled_from(TEMPLATES), name=names())
def test_spoken_requests_never_touch_anything_outside_the_root(template, name):
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "u"  # the same path twice, so absolute names say the same
        answers = []
        for populated in (True, False):
            root, outside = build_universe(base, populated)
            before = snapshot(outside), sorted(p.name for p in base.iterdir())
            skill = FilesSkill(root)
            text = said(template, name, base)
            with watched() as events:
                result = answer(skill, text)  # never raises: a Result or None
            strays = [(e, p) for e, p in events if not inside(p, root)]
            assert strays == [], f"{text!r} touched {strays}"
            assert (snapshot(outside), sorted(p.name for p in base.iterdir())) == before, text
            assert result is None or SECRET not in repr(result), text
            answers.append(result and (result.spoken, result.status, result.value, result.data))
            shutil.rmtree(base)
        assert answers[0] == answers[1], f"{template!r} with {name!r}: the outside showed"


@settings(max_examples=250, deadline=None)
@given(name=names(), want_dir=st.booleans())
def test_path_resolution_never_leaves_the_root(name, want_dir):
    """The skill's own resolution of a spoken name: whatever it settles on is inside."""
    with tempfile.TemporaryDirectory() as a:
        base = Path(a)
        root, outside = build_universe(base, populated=True)
        before = snapshot(outside)
        skill = FilesSkill(root)
        skill._ensure_root()
        name = said("{n}", name, base)
        kind = "folder" if want_dir else "file"
        with watched() as events:
            try:
                path = skill._one(skill._lookup(_target_names(name), want_dir), name, kind)
            except _Reply:
                path = None
        assert path is None or inside(path, root), f"{name!r} resolved to {path}"
        assert [(e, p) for e, p in events if not inside(p, root)] == []
        assert snapshot(outside) == before


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(SEGMENT, max_size=5), absolute=st.booleans())
def test_the_inside_check_never_lets_out_a_path_that_leaves(parts, absolute):
    """`_inside` is the gate every path passes: it must never say yes to one that resolves
    outside the root, whatever symlinks, `..` or odd names it goes through."""
    with tempfile.TemporaryDirectory() as a:
        base = Path(a)
        root, _ = build_universe(base, populated=True)
        skill = FilesSkill(root)
        skill._ensure_root()
        start = base if absolute else root
        try:
            path = start.joinpath(*parts)
        except (TypeError, ValueError):
            return
        if "\x00" in str(path):
            return  # no file system takes such a name: nothing to check against
        assert not skill._inside(path) or inside(path, root), path


def test_the_universe_has_ways_out():
    """The fixture the properties run on really offers every way out they claim to test."""
    with tempfile.TemporaryDirectory() as a:
        base = Path(a)
        root, outside = build_universe(base, populated=True)
        assert (root / "escape.txt").read_text().strip() == SECRET
        assert (root / "escape_dir" / "sub" / "deep_secret.txt").exists()
        assert (root / "up" / "outside" / "secret.txt").exists()
        assert (root / "notes" / "escape_note.txt").read_text().strip() == SECRET
        assert (root / "inside_dir" / "report.md").exists()
        shutil.rmtree(base / "root2")
        assert not (root / "docs" / "sibling").exists()


def test_the_watch_sees_reads_lists_and_writes():
    """The audit events the properties rely on are really recorded, inside and out."""
    with tempfile.TemporaryDirectory() as a:
        base = Path(a)
        root, outside = build_universe(base, populated=True)
        skill = FilesSkill(root)
        with watched() as events:
            answer(skill, "read my groceries note")
            answer(skill, "list the files in docs")
            answer(skill, "make a note called packing saying passport")
            (outside / "secret.txt").read_text()
        seen = {(event, Path(path).name) for event, path in events}
        wanted = {("open", "groceries.txt"), ("os.listdir", "docs"), ("os.link", "packing.txt")}
        assert wanted <= seen
        assert [p for _, p in events if not inside(p, root)] == [str(outside / "secret.txt")]
