"""The files agent: a sandbox folder to list, search, read and write notes in, by voice.

Nothing outside the root is ever touched: every path is resolved, symlinks
included, and must stay under the resolved root. Nothing is ever deleted,
moved or overwritten: a new note is linked into place only where no file is, and an
existing file is only appended to. A write that fails (a full disk) leaves nothing behind:
no empty note, no half line.

"Save it" keeps an earlier result (`Request.previous`) in a note. A result about a file
names it in `data["refer_as"]` ("my groceries note"), so a later "add bread to it" can.
"""

from __future__ import annotations

import codecs
import errno
import glob
import logging
import os
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Literal
from urllib.parse import unquote

from voice_agent.language.phrasing import count, join_words
from voice_agent.skills.base import Request, Result, SkillContext
from voice_agent.skills.registry import NoConfig, skill

log = logging.getLogger(__name__)

NOTES = "notes"
MAX_SPOKEN_NAMES = 10
MAX_READ_WORDS = 80
MAX_READ_CHARS = 500
HEAD_BYTES = 4096  # enough for the spoken excerpt, and to tell text from binary
MAX_READ_SIZE = 10 * 1024 * 1024
MAX_WALK = 10_000  # entries; keeps a voice answer fast even in a crowded folder
MAX_SLUG = 48
STALE_PARTIAL_S = 600
NOTE_EXTENSIONS = (".txt", ".md")

_POLITE = re.compile(
    r"^(?:(?:please|hey|ok|okay|so|now|can you|could you|would you|will you|"
    r"i want you to|i'd like you to|i need you to)[\s,]+)+",
    re.IGNORECASE,
)
_REFUSED = re.compile(
    r"^(?:delete|remove|erase|trash|destroy|wipe|shred|rename|move|overwrite|replace)\b",
    re.IGNORECASE,
)
_CREATE = re.compile(
    r"^(?:(?:create|make|write|start|take|add|new)\s+(?:me\s+)?(?:a\s+)?(?:new\s+)?note\b|"
    r"(?:write|jot|note|take)\s+(?:this\s+|that\s+|it\s+)?down\b)(?P<rest>.*)$",
    re.IGNORECASE,
)
# Greedy line: "add go to the gym to my todo" splits at the last "to".
_APPEND = re.compile(
    r"^(?:add|append|put|write|jot)\s+(?P<line>.+)\s+(?:to|onto|on|into|at the end of)\s+"
    r"(?P<target>.+)$",
    re.IGNORECASE,
)
# "save it", "write that down", "put the result in a note called X": the earlier result.
_SAVE_PREVIOUS = re.compile(
    r"^(?:save|store|keep|copy|put|add|append|write|jot)\s+"
    r"(?:it|that|this|them|the (?:last )?(?:result|answer))(?:\s+down)?"
    r"(?:\s+(?:to|in|into|on|onto|as)\s+(?P<target>.+))?$",
    re.IGNORECASE,
)
# "save the weather to a note": the earlier result, with what it was about for a name.
_SAVE_TOPIC = re.compile(
    r"^(?:save|store|copy)\s+the\s+(?P<topic>(?!notes?\b|files?\b)\w+(?:\s+\w+)?)\s+"
    r"(?:to|in|into|as)\s+(?P<target>.+)$",
    re.IGNORECASE,
)
# "save 175 in my notes" (what "save the result in my notes" becomes once a number is put
# in for "the result"): the words themselves.
_SAVE_WORDS = re.compile(
    r"^(?:save|store)\s+(?P<words>.+?)\s+(?:to|in|into|as)\s+"
    r"(?P<target>(?:a|my|the)\s.*\bnotes?\b.*)$",
    re.IGNORECASE,
)
# A target that names no note: a new one gets a name from what is saved.
_ANY_NOTE = re.compile(
    r"^(?:(?:a|an|my|the|new)\s+)*(?:notes?|files?|notes folder)$", re.IGNORECASE
)
_NOTE_CALLED = re.compile(
    r"^(?:(?:a|an|my|the|new)\s+)*(?:note|file)\s+(?:called|named|titled)\s+(?P<name>.+)$",
    re.IGNORECASE,
)
_READ = re.compile(
    r"^(?:read|open|show me the (?:file|note)|what does|what(?:'s| is| do i have) on)\b"
    r"(?P<target>.*?)(?:\s+say)?$",
    re.IGNORECASE,
)
_WHATS_IN = re.compile(r"^what(?:'s| is) (?:in|inside) (?P<target>.+)$", re.IGNORECASE)
_SEARCH = re.compile(
    r"^(?:find|search|look|locate|is there|are there|do i have|where(?:'s| is| are| did i put))"
    r"\b(?P<query>.*)$",
    re.IGNORECASE,
)
_LIST = re.compile(
    r"^(?:list|show|what|how many|tell me|give me)\b.*\b(?:files?|folders?|director(?:y|ies)|"
    r"documents?|notes|everything|stuff)\b",
    re.IGNORECASE,
)
_LIST_WHERE = re.compile(r"\b(?:in|inside|of)\s+(?P<folder>.+)$", re.IGNORECASE)

_NOTE_NAMED = re.compile(r"^(?:called|named|titled)\s+(?P<named>.+)$", re.IGNORECASE)
_NAME_BODY_SPLIT = re.compile(
    r"\s*[:,]\s*|\s+(?:saying|that says|which says|that reads|with the text|reading)\s+",
    re.IGNORECASE,
)
_BODY_LEAD = re.compile(
    r"^(?:[:,-]\s*|(?:saying|that says|which says|that reads|with the text|reading|to say|that)"
    r"[:,]?\s+)",  # "saying, pack the charger": Whisper's comma for a pause
    re.IGNORECASE,
)
_NAME_LEAD = re.compile(
    r"^(?:me|out|aloud|to me|the first (?:few )?lines? of|the (?:beginning|start|top) of|the|my|"
    r"a|an|file|note|document|folder|called|named)\s+",
    re.IGNORECASE,
)
_NAME_TRAIL = re.compile(r"\s+(?:out loud|aloud|to me|for me|back|again|out)$", re.IGNORECASE)
_NAME_NOUN = re.compile(r"\s+(?:note|notes|list|file|document|doc|folder|directory)$", re.I)
_QUERY_LEAD = re.compile(
    r"^(?:for|up|any|a|an|the|my|all|files?|notes?|documents?|named|called|titled|about|with|"
    r"containing|matching|mentioning|word|name|text)\s+",
    re.IGNORECASE,
)
_QUERY_TRAIL = re.compile(r"\s+(?:files?|notes?|documents?)$", re.IGNORECASE)
_ROOT_WORDS = frozenset(
    {"", "files", "folder", "folders", "documents", "stuff", "everything", "directory", "home"}
)
_SPOKEN_NAME = (
    (re.compile(r"\bt\s+x\s+t\b", re.I), "txt"),
    (re.compile(r"\s+dot\s+", re.I), "."),
    (re.compile(r"\.text\b", re.I), ".txt"),
    (re.compile(r"\.markdown\b", re.I), ".md"),
    (re.compile(r"\s+underscore\s+", re.I), "_"),
    (re.compile(r"\s+(?:dash|hyphen)\s+", re.I), "-"),
)
# The groups of the patterns above that hold words kept as said (KeepsWords).
_KEPT_GROUPS = ("rest", "line", "words")
_STOP_WORDS = frozenset("a an and are at for in is my of on or the to was with".split())
_QUOTES = "\"'“”‘’"


class _Reply(Exception):
    """Raised with the sentence to speak when a command cannot go on: it needs more from the
    user ("ask", e.g. which of two files) or cannot be done at all ("failed")."""

    def __init__(self, spoken: str, status: Literal["ask", "failed"] = "failed") -> None:
        super().__init__(spoken)
        self.status: Literal["ask", "failed"] = status


class FilesSkill:
    def __init__(self, root: Path) -> None:
        self._root = Path(root).expanduser().absolute()
        self._real_root: Path | None = None
        self._intents: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Result]], ...] = (
            (_REFUSED, self._refuse),
            (_SAVE_WORDS, self._save_words),
            (_CREATE, self._create),
            (_APPEND, self._append),
            (_READ, self._read),
            (_WHATS_IN, self._whats_in),
            (_SEARCH, self._search),
            (_LIST, self._list),
        )

    def handle(self, request: Request) -> Result | None:
        found = self._command(_normalize(request.text), request.previous)
        if found is None:
            return None
        action, match = found
        try:
            self._ensure_root()
            return action(match)
        except _Reply as reply:
            return Result(str(reply), status=reply.status)
        except OSError as exc:
            log.warning("files skill: %s", exc)
            reason = (exc.strerror or "the file system refused").lower()
            if exc.errno == errno.ENOSPC:
                reason = "disk full, nothing was written"
            return Result(f"I couldn't do that: {reason}.", status="failed")

    def kept_words(self, text: str) -> str | None:
        """A note's name and body, a line to add or words to save, as `text` says them."""
        found = self._command(_normalize(text), None)
        if found is None:
            return None
        kept = [found[1].groupdict().get(group) for group in _KEPT_GROUPS]
        return " ".join(words for words in kept if words) or None

    def _command(
        self, command: str, previous: Result | None
    ) -> tuple[Callable[[re.Match[str]], Result], re.Match[str]] | None:
        save = partial(self._save, previous)
        for pattern, action in ((_SAVE_PREVIOUS, save), (_SAVE_TOPIC, save), *self._intents):
            if match := pattern.search(command):
                return action, match
        return None

    # --- the sandbox --------------------------------------------------------------------

    def _ensure_root(self) -> None:
        self._root.mkdir(parents=True, exist_ok=True)
        self._real_root = self._root.resolve()
        notes = self._root / NOTES
        if not os.path.lexists(notes):  # a symlink named notes is left alone, and checked on use
            notes.mkdir()

    @property
    def _outside(self) -> str:
        return f"I can only use files inside your {self._root.name} folder, so I won't touch that."

    def _inside(self, path: Path) -> bool:
        """True when `path`, with every symlink resolved, stays under the root."""
        assert self._real_root is not None
        try:
            return path.resolve().is_relative_to(self._real_root)
        except (OSError, RuntimeError):  # symlink loops
            return False

    def _checked(self, path: Path) -> Path:
        if not self._inside(path):
            raise _Reply(self._outside)
        return path

    def _reject_escapes(self, name: str) -> None:
        """Refuse path syntax that points out of the root, also when URL-encoded."""
        decoded = name
        for _ in range(3):  # "%252e%252e" is ".." encoded twice
            decoded = unquote(decoded)
        parts = re.split(r"[\\/]+", decoded)
        if (
            decoded.startswith(("/", "\\", "~"))
            or ".." in parts
            or "\0" in decoded
            or re.match(r"^[a-zA-Z]:", decoded)
        ):
            raise _Reply(self._outside)

    def _entries(self) -> Iterator[tuple[Path, bool]]:
        """(path, is_folder) for everything under the root; symlinked folders are not entered."""
        seen = 0
        for dirpath, dirnames, filenames in os.walk(self._root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            base = Path(dirpath)
            names = [(d, True) for d in dirnames]
            names += [(f, False) for f in sorted(filenames) if not f.startswith(".")]
            for name, is_dir in names:
                yield base / name, is_dir
            seen += len(names)
            if seen > MAX_WALK:
                return

    def _lookup(self, names: list[str], want_dir: bool) -> list[Path]:
        """Candidates for the first spoken name that matches anything, best tier first."""
        for name in names:
            self._reject_escapes(name)
            if not name:
                continue
            if "/" in name:
                # Checked before it is looked at: whether a file exists through a link out of
                # the root is none of the answer's business.
                path = self._checked(self._root / name)
                if os.path.lexists(path) and path.is_dir() == want_dir:
                    return [path]
                continue
            found = _best_matches(name, [p for p, is_dir in self._entries() if is_dir == want_dir])
            if found:
                return found
        return []

    def _one(self, found: list[Path], name: str, kind: str) -> Path:
        if not name:
            raise _Reply(f"Which {kind} do you mean?", "ask")
        if not found:
            raise _Reply(f"I couldn't find a {kind} called {name}.")
        if len(found) > 1:
            where = join_words([self._where(p) for p in found], most=MAX_SPOKEN_NAMES)
            raise _Reply(
                f"I found {count(len(found), kind)} called {name}: {where}. Which one?", "ask"
            )
        return self._checked(found[0])

    def _where(self, path: Path) -> str:
        folder = path.parent.relative_to(self._root).as_posix()
        return path.name if folder == "." else f"{path.name} in {folder}"

    def _is_root(self, name: str) -> bool:
        lowered = name.casefold()
        return lowered in _ROOT_WORDS or _slug(lowered) == _slug(self._root.name)

    def _folder_label(self, folder: Path) -> str:
        return f"Your {folder.name} folder"

    def _relative(self, path: Path) -> str:
        """The path as the result gives it: relative to the root, "." for the root itself."""
        return path.relative_to(self._root).as_posix()

    # --- commands -----------------------------------------------------------------------

    def _refuse(self, match: re.Match[str]) -> Result:
        return Result(
            "Sorry, files are never deleted, moved, renamed or overwritten by voice; "
            f"you can do that yourself in your {self._root.name} folder.",
            data={"action": match.group().lower()},
            status="failed",
        )

    def _list(self, match: re.Match[str]) -> Result:
        where = _LIST_WHERE.search(match.string)
        if where:
            raw = where.group("folder")
        elif re.search(r"\bnotes\b", match.string, re.IGNORECASE):
            raw = NOTES
        else:
            raw = ""
        return self._list_folder(self._folder(raw))

    def _folder(self, raw: str) -> Path:
        names = _target_names(raw)
        if self._is_root(names[-1]):
            self._reject_escapes(names[0])
            return self._root
        return self._one(self._lookup(names, want_dir=True), names[-1], "folder")

    def _list_folder(self, folder: Path) -> Result:
        entries = sorted(
            (p for p in folder.iterdir() if not p.name.startswith(".") and self._inside(p)),
            key=lambda p: p.name.casefold(),
        )
        folders = [p.name for p in entries if p.is_dir()]
        files = [p.name for p in entries if p.is_file()]
        return Result(
            self._say_listing(folder, folders, files),
            value=folders + files,
            data={
                "action": "list",
                "folder": self._relative(folder),
                "folders": folders,
                "files": files,
            },
        )

    def _say_listing(self, folder: Path, folders: list[str], files: list[str]) -> str:
        label = self._folder_label(folder)
        if not folders and not files:
            return f"{label} is empty."
        # Folders are named first; fewer files then, so the whole answer stays short.
        file_cap = max(MAX_SPOKEN_NAMES - len(folders), 3) if folders else MAX_SPOKEN_NAMES
        file_part = f"{count(len(files), 'file')}: {join_words(files, most=file_cap)}"
        if not folders:
            return f"{label} has {file_part}."
        folder_names = join_words(folders, most=MAX_SPOKEN_NAMES)
        folder_part = f"{count(len(folders), 'folder')}, {folder_names}"
        if not files:
            return f"{label} has {folder_part}, and no files."
        return f"{label} has {folder_part}, and {file_part}."

    def _whats_in(self, match: re.Match[str]) -> Result:
        return self._open(match.group("target"), folders_first=True)

    def _search(self, match: re.Match[str]) -> Result:
        query = _search_query(match.group("query"))
        self._reject_escapes(query)
        if not query:
            return self._list_folder(self._root)
        key = _loose(query)
        found = [
            p
            for p, is_dir in self._entries()
            if not is_dir and key in _loose(p.name) and self._inside(p)
        ]
        data = {"action": "search", "query": query}
        value = [self._relative(p) for p in found]
        if not found:
            return Result(f"I couldn't find any file matching {query}.", value=value, data=data)
        names = join_words([self._where(p) for p in found], most=MAX_SPOKEN_NAMES)
        spoken = f"I found {count(len(found), 'file')} matching {query}: {names}."
        return Result(spoken, value=value, data=data)

    def _read(self, match: re.Match[str]) -> Result:
        return self._open(match.group("target"), folders_first=False)

    def _open(self, raw: str, folders_first: bool) -> Result:
        """Read a file or list a folder, whichever the name is; "what's in" prefers folders."""
        names = _target_names(raw)
        if folders_first and self._is_root(names[-1]):
            return self._list_folder(self._folder(raw))
        for want_dir in (True, False) if folders_first else (False, True):
            found = self._lookup(names, want_dir)
            if found:
                path = self._one(found, names[-1], "folder" if want_dir else "file")
                return self._list_folder(path) if want_dir else self._read_file(path)
        if not names[-1]:
            raise _Reply("Which file do you mean?", "ask")
        raise _Reply(f"I couldn't find a file called {names[-1]}.")

    def _read_file(self, path: Path) -> Result:
        self._require_regular(path)
        size = path.stat().st_size
        if size > MAX_READ_SIZE:
            megabytes = size // (1024 * 1024)
            raise _Reply(f"{path.name} is {megabytes} megabytes, too big to read aloud.")
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
        text = _decode_text(head)
        if text is None:
            raise _Reply(f"{path.name} isn't a text file, so I can't read it aloud.")
        excerpt, cut = _excerpt(_speakable(text))
        whole = not cut and size <= len(head)
        if size == 0:
            spoken = f"{path.name} is empty."
        elif not excerpt:
            raise _Reply(f"{path.name} has nothing I can read aloud.")
        elif whole:
            spoken = f"{path.name} says: {excerpt}"
        else:
            spoken = f"{path.name} begins: {excerpt} There's more after that."
        data = {"action": "read", "text": excerpt, "whole": whole, **self._refer_as(path)}
        return Result(spoken, value=self._relative(path), data=data)

    def _create(self, match: re.Match[str]) -> Result:
        name, body = _parse_note(match.group("rest"))
        if not name and not body:
            raise _Reply("What should the note say?", "ask")
        stem, extension = _note_name(name or _title(body))
        path = self._new_note(stem, extension, body)
        if path.name != stem + extension:
            spoken = (
                f"You already have a note called {stem}{extension}, "
                f"so I saved this one as {path.name}."
            )
        elif not body:
            spoken = f"I created an empty note, {path.name}, in your notes folder."
        else:
            spoken = f"I saved your note as {path.name} in your notes folder."
        return self._wrote(spoken, path, "create", body)

    def _append(self, match: re.Match[str]) -> Result:
        line = " ".join(_unquote(match.group("line")).split())
        if not line:
            raise _Reply("What should I add?", "ask")
        names = _target_names(match.group("target"))
        path, started = self._add_to(self._lookup(names, want_dir=False), names[-1], line)
        if started:
            spoken = f"You had no note called {names[-1]}, so I started {path.name} with that."
        else:
            spoken = f"I added {line if len(line) <= 60 else 'that'} to {path.name}."
        return self._wrote(spoken, path, "create" if started else "append", line)

    def _save(self, previous: Result | None, match: re.Match[str]) -> Result:
        """The earlier result's words into a note; a new note's name, unless one is given,
        is what the request says it was about ("the weather"), else its first words."""
        if previous is None or previous.status != "done" or not previous.spoken.strip():
            raise _Reply("There's nothing to save yet.")
        topic = match.groupdict().get("topic")
        return self._keep(previous.spoken.strip(), match.group("target"), topic)

    def _save_words(self, match: re.Match[str]) -> Result:
        return self._keep(_unquote(match.group("words")), match.group("target"), None)

    def _keep(self, text: str, target: str | None, topic: str | None) -> Result:
        """Save `text` in the note `target` names (added to it if it exists), else in a new
        note named after `topic` or the text's first words."""
        target = _unquote(target or "")
        called = _NOTE_CALLED.match(target)
        if not target or _ANY_NOTE.match(target):
            stem, extension = _note_name(topic or _title(text))
            path, started = self._new_note(stem, extension, text), True
        elif called:
            name = called.group("name")
            same = [p for p in self._lookup([name], want_dir=False) if _same_name(p, name)]
            path, started = self._add_to(same, name, text)
        else:
            names = _target_names(target)
            path, started = self._add_to(self._lookup(names, want_dir=False), names[-1], text)
        if started:
            spoken = f"I saved that as {path.name} in your notes folder."
        else:
            spoken = f"I added that to {path.name}."
        return self._wrote(spoken, path, "save", text)

    def _add_to(self, found: list[Path], name: str, line: str) -> tuple[Path, bool]:
        """Append `line` to the one file found, or start a note called `name` with it; and
        whether it was started."""
        if not found:
            return self._new_note(*_note_name(name), line), True
        path = self._one(found, name, "file")
        self._require_regular(path)
        with path.open("rb") as handle:
            if _decode_text(handle.read(HEAD_BYTES)) is None:
                raise _Reply(f"{path.name} isn't a text file, so I won't add to it.")
        _append_line(path, line)
        return path, False

    def _wrote(self, spoken: str, path: Path, action: str, text: str) -> Result:
        data = {"action": action, "text": text, **self._refer_as(path)}
        return Result(spoken, value=self._relative(path), data=data)

    def _refer_as(self, path: Path) -> dict[str, str]:
        """{"refer_as": "my groceries note"}: the shortest phrase that, read or added to,
        finds this file and no other ("my groceries.md note" when groceries.txt is there
        too); nothing when no phrase does."""
        noun = "note" if path.parent == self._root / NOTES else "file"
        for name in (path.stem, path.name, self._relative(path)):
            phrase = f"my {name} {noun}"
            appended = _APPEND.search(f"add it to {phrase}")
            if appended is None or appended.group("target") != phrase:
                continue  # "my trip to rome note" would be cut at its "to"
            try:
                if self._lookup(_target_names(phrase), want_dir=False) == [path]:
                    return {"refer_as": phrase}
            except _Reply:  # a name that reads like a way out ("%2e%2e")
                continue
        return {}

    def _require_regular(self, path: Path) -> None:
        # Devices and pipes would block or stream forever.
        if not path.is_file():
            raise _Reply(f"{path.name} isn't a regular file, so I'll leave it alone.")

    def _new_note(self, stem: str, extension: str, body: str) -> Path:
        """Create notes/<stem><extension>, else <stem>-2 and so on: never replaces a file."""
        folder = self._checked(self._root / NOTES)
        for n in range(1, 1000):
            path = folder / (f"{stem}{extension}" if n == 1 else f"{stem}-{n}{extension}")
            if os.path.lexists(path):  # also a dangling symlink, which a link would refuse too
                continue
            try:
                _create_whole(path, f"{body}\n" if body else "")
            except FileExistsError:
                continue
            return path
        raise _Reply(f"You have too many notes called {stem}; please pick another name.")


# --- text helpers ------------------------------------------------------------------------


def _normalize(text: str) -> str:
    command = _POLITE.sub("", " ".join(text.split())).rstrip("?!. ")
    command = re.sub(r"[\s,]*\bplease$", "", command, flags=re.IGNORECASE)  # "..., please."
    return command.rstrip("?!. ")


def _unquote(text: str) -> str:
    return text.strip().strip(_QUOTES).strip()


def _spoken_name(text: str) -> str:
    """ "groceries dot txt" -> "groceries.txt"."""
    name = _unquote(text)
    for pattern, replacement in _SPOKEN_NAME:
        name = pattern.sub(replacement, name)
    return name


def _target_names(raw: str) -> list[str]:
    """The name as spoken, then without a trailing "note"/"list"/"file": "todo list", "todo"."""
    name = _spoken_name(raw)
    previous = None
    while previous != name:
        previous = name
        name = _NAME_TRAIL.sub("", _NAME_LEAD.sub("", name)).strip()
    short = _NAME_NOUN.sub("", name).strip()
    return [name, short] if short and short != name else [name]


def _search_query(raw: str) -> str:
    query = _spoken_name(raw)
    previous = None
    while previous != query:
        previous = query
        query = _QUERY_TRAIL.sub("", _QUERY_LEAD.sub("", query)).strip()
    return _unquote(query)


def _best_matches(name: str, paths: list[Path]) -> list[Path]:
    """Exact name, else same stem ignoring case and separators, else stems containing the name."""
    wanted, slug = name.casefold(), _slug(name)
    exact = [p for p in paths if p.name.casefold() == wanted]
    if exact or not slug:
        return exact
    same = [p for p in paths if slug in (_slug(p.stem), _slug(p.name))]
    return same or [p for p in paths if slug in _slug(p.stem)]


def _same_name(path: Path, name: str) -> bool:
    """Whether `path` is the note called `name`: "Tokyo weather" is tokyo-weather.txt."""
    return path.name.casefold() == name.casefold() or _slug(path.stem) == _note_name(name)[0]


def _loose(text: str) -> str:
    """Case and separators ignored: "Budget_Report.txt" ~ "budget report"."""
    return " ".join(re.split(r"[\s._-]+", text.casefold())).strip()


def _slug(name: str) -> str:
    """Letters, digits and dashes only, so a spoken name can never become a path."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:MAX_SLUG].rstrip("-")


def _note_name(name: str) -> tuple[str, str]:
    """Spoken note name -> (slug, extension); ".txt" unless ".md" was said."""
    name = _spoken_name(name)
    extension = ".txt"
    for known in NOTE_EXTENSIONS:
        if name.lower().endswith(known):
            name, extension = name[: -len(known)], known
    return _slug(name) or "note", extension


def _title(body: str) -> str:
    """A name from the first words of a note: "call the dentist at noon" -> "call the dentist",
    "it's sunny" -> "its sunny"."""
    words = [w for w in re.split(r"[^\w]+", re.sub(r"['’]", "", body.lower())) if w][:5]
    while words and words[-1] in _STOP_WORDS:
        words.pop()
    return " ".join(words) or "note"


def _parse_note(rest: str) -> tuple[str | None, str]:
    """ "called groceries saying milk" -> ("groceries", "milk"); ": call mom" -> (None, ...)."""
    rest = rest.strip()
    named = _NOTE_NAMED.match(rest)
    if named:
        parts = _NAME_BODY_SPLIT.split(named.group("named"), maxsplit=1)
        name, body = parts[0], parts[1] if len(parts) > 1 else ""
    else:
        name, body = None, rest
    body = _unquote(_BODY_LEAD.sub("", body.strip()))
    return (_unquote(name) if name else None), body


def _decode_text(data: bytes) -> str | None:
    """The text in `data`, or None when it looks binary. A cut multi-byte character is fine."""
    if b"\0" in data:
        return None
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=False)
    except UnicodeDecodeError:
        return None


def _speakable(text: str) -> str:
    """Lines become sentences; Markdown headings and bullets lose their marks."""
    sentences = []
    for line in text.splitlines():
        line = re.sub(r"^\s*(?:[#>*+-]+|\d+[.)])\s*", "", line).strip()
        if line:
            sentences.append(line if line[-1] in ".!?:;," else line + ".")
    return " ".join(sentences)


def _excerpt(text: str) -> tuple[str, bool]:
    """The first words that fit, and whether anything was left out."""
    words = text.split()
    excerpt = " ".join(words[:MAX_READ_WORDS])
    cut = len(words) > MAX_READ_WORDS
    if len(excerpt) > MAX_READ_CHARS:
        excerpt, cut = excerpt[:MAX_READ_CHARS].rsplit(" ", 1)[0], True
    if cut and excerpt and excerpt[-1] not in ".!?":
        excerpt += "."
    return excerpt, cut


def _create_whole(path: Path, text: str) -> None:
    """A new file holding `text`, whole or not at all (a full disk leaves no empty or cut
    note). It is written under a hidden temporary name beside `path`, then hard-linked in
    place: unlike a rename, a link never replaces a file, nor follows a symlink there."""
    _remove_stale_partials(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # as a new file usually is; mkstemp makes it private
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())  # the name must not outlive the words after a crash
        os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _remove_stale_partials(path: Path) -> None:
    """Temporary copies of `path` left by a process killed mid-write: none is still being
    written after STALE_PARTIAL_S, as a note is written in milliseconds."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
        try:
            if time.time() - leftover.lstat().st_mtime > STALE_PARTIAL_S:
                leftover.unlink()
        except OSError:  # gone already, or not ours to remove: it stays hidden either way
            continue


def _append_line(path: Path, line: str) -> None:
    """Append one line, starting a new line first if the file does not end with one. A
    write that fails (a full disk) is taken back: the file ends as it was, never cut."""
    with path.open("rb+", buffering=0) as handle:
        size = handle.seek(0, os.SEEK_END)
        if size:
            handle.seek(-1, os.SEEK_END)
        needs_newline = size > 0 and handle.read(1) != b"\n"
        data = (("\n" if needs_newline else "") + line + "\n").encode("utf-8")
        try:
            written = 0
            while written < len(data):
                written += handle.write(data[written:])
            os.fsync(handle.fileno())
        except OSError:
            handle.truncate(size)
            raise


@skill("files")
def make(ctx: SkillContext, config: NoConfig) -> FilesSkill:
    return FilesSkill(ctx.settings.agents.files_root)
