"""The files skill on real files in tmp_path: listing, search, reading, notes, and the sandbox."""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from voice_agent.app import build
from voice_agent.config import load_settings
from voice_agent.skills.base import Request, Result
from voice_agent.skills.files import FilesSkill
from voice_agent.skills.registry import NoConfig, find_skill

OUTSIDE = "I can only use files inside your VoiceAgent folder, so I won't touch that."
REFUSED = (
    "Sorry, files are never deleted, moved, renamed or overwritten by voice; "
    "you can do that yourself in your VoiceAgent folder."
)


def say(skill: FilesSkill, text: str) -> str | None:
    """What the skill says to a typed request, or None when it is not about files."""
    result = skill.handle(Request(text))
    return None if result is None else result.spoken


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "VoiceAgent"


@pytest.fixture
def skill(root: Path) -> FilesSkill:
    skill = FilesSkill(root)
    say(skill, "list my files")  # first use creates the root and notes/
    return skill


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def everything_outside(tmp_path: Path, root: Path) -> dict[str, bytes | str]:
    """Every entry under tmp_path but outside root: file bytes, or what a link points to."""
    seen: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(tmp_path):
        here = Path(dirpath)
        if here == root or root in here.parents:
            continue
        for name in dirnames + filenames:
            path = here / name
            if path == root:
                continue
            if path.is_symlink():
                seen[str(path)] = "link:" + os.readlink(path)
            elif path.is_file():
                seen[str(path)] = path.read_bytes()
            else:
                seen[str(path)] = "dir"
    return seen


# --- listing ---------------------------------------------------------------------------------


def test_first_use_creates_root_and_notes(root: Path) -> None:
    skill = FilesSkill(root)
    assert not root.exists()
    assert say(skill, "list my files") == (
        "Your VoiceAgent folder has 1 folder, notes, and no files."
    )
    assert (root / "notes").is_dir()


@pytest.mark.parametrize(
    "text",
    ["list the files in my notes folder", "what's in my notes", "list my notes", "Show my notes."],
)
def test_list_notes_folder(skill: FilesSkill, root: Path, text: str) -> None:
    for name in ("todo.txt", "groceries.txt", "ideas.md"):
        write(root / "notes" / name, "x\n")
    assert say(skill, text) == (
        "Your notes folder has 3 files: groceries.txt, ideas.md and todo.txt."
    )


@pytest.mark.parametrize(
    "text", ["list my files", "how many files are in my folder", "what folders do I have"]
)
def test_list_root_says_folders_and_files(skill: FilesSkill, root: Path, text: str) -> None:
    write(root / "readme.txt", "hi")
    write(root / "work" / "plan.md", "plan")
    write(root / ".hidden", "not spoken")
    assert say(skill, text) == (
        "Your VoiceAgent folder has 2 folders, notes and work, and 1 file: readme.txt."
    )


def test_list_caps_spoken_names(skill: FilesSkill, root: Path) -> None:
    for i in range(14):
        write(root / "notes" / f"note{i:02}.txt", "x")
    answer = say(skill, "list the files in my notes folder")
    assert answer.startswith("Your notes folder has 14 files: note00.txt, note01.txt,")
    assert answer.endswith("note09.txt and 4 more.")


def test_list_nested_and_empty_and_missing_folders(skill: FilesSkill, root: Path) -> None:
    (root / "projects" / "empty").mkdir(parents=True)
    assert say(skill, "list everything in the projects folder") == (
        "Your projects folder has 1 folder, empty, and no files."
    )
    assert say(skill, "what's in the empty folder") == "Your empty folder is empty."
    assert say(skill, "open my projects folder") == (
        "Your projects folder has 1 folder, empty, and no files."
    )
    assert say(skill, "list the files in my taxes folder") == (
        "I couldn't find a folder called taxes."
    )


# --- search ----------------------------------------------------------------------------------


def test_search_by_name_recursive_and_case_insensitive(skill: FilesSkill, root: Path) -> None:
    write(root / "budget.xlsx", b"PK\x03\x04")
    write(root / "notes" / "Budget_2024.txt", "numbers")
    write(root / "work" / "report.md", "text")
    assert say(skill, "find files named budget") == (
        "I found 2 files matching budget: budget.xlsx and Budget_2024.txt in notes."
    )


@pytest.mark.parametrize(
    "text",
    [
        "search for report",
        "look for a file about report",
        "search my files for the word report",
        "is there a file called report",
        "where is my report file",
    ],
)
def test_search_phrasings(skill: FilesSkill, root: Path, text: str) -> None:
    write(root / "work" / "Q3-Report.md", "text")
    assert say(skill, text) == "I found 1 file matching report: Q3-Report.md in work."


def test_search_nothing_and_many(skill: FilesSkill, root: Path) -> None:
    assert say(skill, "search for taxes") == "I couldn't find any file matching taxes."
    for i in range(15):
        write(root / "logs" / f"log-{i:02}.txt", "x")
    assert say(skill, "find log").endswith("log-09.txt in logs and 5 more.")


# --- reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "read groceries",
        "read me the file groceries.txt",
        "Read groceries dot txt.",
        "read the groceries note",
        "what does my groceries note say",
        "what's in my groceries note",
        "read the first lines of groceries.txt",
        "read my groceries note back",  # "read it back", its "it" filled in
        "read the groceries list out again",
    ],
)
def test_read_small_file(skill: FilesSkill, root: Path, text: str) -> None:
    write(root / "notes" / "groceries.txt", "# Groceries\n- milk\n- eggs\n")
    assert say(skill, text) == "groceries.txt says: Groceries. milk. eggs."


def test_read_finds_by_partial_stem(skill: FilesSkill, root: Path) -> None:
    write(root / "notes" / "shopping-list.txt", "apples\n")
    assert say(skill, "read my shopping note") == "shopping-list.txt says: apples."
    assert say(skill, "read me my shopping list") == "shopping-list.txt says: apples."
    assert say(skill, "what's on my shopping list") == "shopping-list.txt says: apples."


def test_read_long_file_gives_the_beginning(skill: FilesSkill, root: Path) -> None:
    words = [f"w{i}" for i in range(300)]
    write(root / "story.txt", " ".join(words))
    answer = say(skill, "read story")
    assert answer.startswith("story.txt begins: w0 w1 w2")
    assert answer.endswith("w79. There's more after that.")
    assert " w80" not in answer


def test_read_long_words_caps_characters(skill: FilesSkill, root: Path) -> None:
    write(root / "wide.txt", " ".join(["x" * 40] * 50))
    answer = say(skill, "read wide")
    excerpt = answer.removeprefix("wide.txt begins: ").removesuffix(" There's more after that.")
    assert len(excerpt) <= 501
    assert answer.endswith("There's more after that.")


def test_read_refuses_binary_huge_and_reports_empty(skill: FilesSkill, root: Path) -> None:
    write(root / "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    write(root / "latin.txt", "caf\xe9".encode("latin-1") * 10)
    with (root / "huge.log").open("wb") as handle:
        handle.truncate(11 * 1024 * 1024)  # sparse: cheap to make
    write(root / "blank.txt", "")
    assert say(skill, "read photo") == "photo.jpg isn't a text file, so I can't read it aloud."
    assert say(skill, "read latin") == "latin.txt isn't a text file, so I can't read it aloud."
    assert say(skill, "read huge.log") == "huge.log is 11 megabytes, too big to read aloud."
    assert say(skill, "read blank") == "blank.txt is empty."


def test_read_ambiguous_asks_and_missing_says_so(skill: FilesSkill, root: Path) -> None:
    write(root / "notes" / "todo.txt", "a")
    write(root / "work" / "todo.md", "b")
    assert say(skill, "read todo") == (
        "I found 2 files called todo: todo.txt in notes and todo.md in work. Which one?"
    )
    assert say(skill, "read todo.md") == "todo.md says: b."
    assert say(skill, "read the budget file") == "I couldn't find a file called budget."
    assert say(skill, "read") == "Which file do you mean?"


# --- creating and appending ------------------------------------------------------------------


def test_create_note_with_name_and_text(skill: FilesSkill, root: Path) -> None:
    answer = say(skill, "create a note called groceries saying buy milk and eggs")
    assert answer == "I saved your note as groceries.txt in your notes folder."
    assert (root / "notes" / "groceries.txt").read_text(encoding="utf-8") == "buy milk and eggs\n"


def test_creating_a_note_clears_what_a_killed_write_of_it_left(
    skill: FilesSkill, root: Path
) -> None:
    notes = root / "notes"
    stale = write(notes / ".groceries.txt.k3x9q1.partial", "buy mi")
    fresh = write(notes / ".groceries.txt.a8b2c4.partial", "buy milk")  # being written now
    other = write(notes / ".packing.txt.z1y2x3.partial", "pass")
    hour_ago = time.time() - 3600
    for leftover in (stale, other):
        os.utime(leftover, (hour_ago, hour_ago))
    say(skill, "create a note called groceries saying buy milk")
    assert (notes / "groceries.txt").read_text(encoding="utf-8") == "buy milk\n"
    assert not stale.exists() and fresh.exists() and other.exists()


@pytest.mark.parametrize(
    ("text", "name", "body"),
    [
        ("make a note: call the dentist", "call-the-dentist.txt", "call the dentist"),
        ("take a note buy more coffee filters", "buy-more-coffee-filters.txt", None),
        ("write down that the wifi password is on the fridge", "the-wifi-password.txt", None),
        ("make a new note that says call the plumber", "call-the-plumber.txt", None),
        ("create a note called Packing List saying passport", "packing-list.txt", "passport"),
        ("create a note called ideas dot md saying a robot cat", "ideas.md", "a robot cat"),
        ("create a note called café plans: croissants ☕", "cafe-plans.txt", "croissants ☕"),
    ],
)
def test_create_note_phrasings(
    skill: FilesSkill, root: Path, text: str, name: str, body: str | None
) -> None:
    assert say(skill, text) == f"I saved your note as {name} in your notes folder."
    content = (root / "notes" / name).read_text(encoding="utf-8")
    if body is not None:
        assert content == body + "\n"


def test_create_never_overwrites(skill: FilesSkill, root: Path) -> None:
    existing = write(root / "notes" / "groceries.txt", "original\n")
    assert say(skill, "create a note called groceries saying apples") == (
        "You already have a note called groceries.txt, so I saved this one as groceries-2.txt."
    )
    say(skill, "create a note called groceries saying pears")
    assert existing.read_text(encoding="utf-8") == "original\n"
    assert (root / "notes" / "groceries-2.txt").read_text(encoding="utf-8") == "apples\n"
    assert (root / "notes" / "groceries-3.txt").read_text(encoding="utf-8") == "pears\n"


def test_create_empty_note_and_nothing_said(skill: FilesSkill, root: Path) -> None:
    assert say(skill, "create a note called packing") == (
        "I created an empty note, packing.txt, in your notes folder."
    )
    assert say(skill, "make a note") == "What should the note say?"


@pytest.mark.parametrize(
    "text",
    [
        "add bread to my groceries note",
        "append 'bread' to groceries",
        "put bread on my groceries list",
        "add bread to groceries.txt",
    ],
)
def test_append_keeps_existing_text(skill: FilesSkill, root: Path, text: str) -> None:
    note = write(root / "notes" / "groceries.txt", "milk\neggs")  # no final newline
    assert say(skill, text) == "I added bread to groceries.txt."
    assert note.read_text(encoding="utf-8") == "milk\neggs\nbread\n"


def test_append_splits_at_the_last_to(skill: FilesSkill, root: Path) -> None:
    note = write(root / "notes" / "todo.txt", "")
    assert say(skill, "add go to the gym to my todo list") == "I added go to the gym to todo.txt."
    assert note.read_text(encoding="utf-8") == "go to the gym\n"


def test_append_to_missing_note_starts_it(skill: FilesSkill, root: Path) -> None:
    assert say(skill, "append 'call mom' to todo") == (
        "You had no note called todo, so I started todo.txt with that."
    )
    assert (root / "notes" / "todo.txt").read_text(encoding="utf-8") == "call mom\n"


def test_append_refuses_binary(skill: FilesSkill, root: Path) -> None:
    photo = write(root / "photo.jpg", b"\xff\xd8\x00\x01")
    assert say(skill, "add a caption to photo.jpg") == (
        "photo.jpg isn't a text file, so I won't add to it."
    )
    assert photo.read_bytes() == b"\xff\xd8\x00\x01"


@pytest.mark.parametrize(
    "text",
    [
        "delete groceries",
        "please remove the groceries note",
        "rename groceries to food",
        "move groceries.txt to work",
        "overwrite groceries with nothing",
    ],
)
def test_delete_move_rename_refused(skill: FilesSkill, root: Path, text: str) -> None:
    note = write(root / "notes" / "groceries.txt", "milk\n")
    assert say(skill, text) == REFUSED
    assert note.read_text(encoding="utf-8") == "milk\n"
    assert sorted(p.name for p in (root / "notes").iterdir()) == ["groceries.txt"]


def test_other_requests_are_not_for_files(skill: FilesSkill) -> None:
    assert say(skill, "what's the weather in London") is None
    assert say(skill, "set a timer for five minutes") is None


# --- structured results ----------------------------------------------------------------------


def test_results_carry_the_path_and_the_action(skill: FilesSkill, root: Path) -> None:
    write(root / "work" / "plan.md", "ship it\n")
    listed = skill.handle(Request("list my files"))
    assert listed.value == ["notes", "work"]
    assert listed.data == {"action": "list", "folder": ".", "folders": ["notes", "work"],
                           "files": []}  # fmt: skip
    read = skill.handle(Request("read plan"))
    assert (read.status, read.value) == ("done", "work/plan.md")
    assert read.data == {
        "action": "read",
        "text": "ship it.",
        "whole": True,
        "refer_as": "my plan file",
    }
    created = skill.handle(Request("create a note called groceries saying milk"))
    assert created.value == "notes/groceries.txt"
    assert created.data == {"action": "create", "text": "milk", "refer_as": "my groceries note"}
    appended = skill.handle(Request("add eggs to my groceries note"))
    assert appended.value == "notes/groceries.txt"
    assert appended.data == {"action": "append", "text": "eggs", "refer_as": "my groceries note"}
    found = skill.handle(Request("find plan"))
    assert found.value == ["work/plan.md"]
    assert found.data == {"action": "search", "query": "plan"}


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("read", "ask"),
        ("make a note", "ask"),
        ("read todo", "ask"),  # two of them: which one?
        ("read the budget file", "failed"),
        ("read photo", "failed"),
        ("read ../secret.txt", "failed"),
        ("delete todo", "failed"),
        ("search for taxes", "done"),  # nothing found is an answer
    ],
)
def test_results_say_when_more_is_needed_or_it_failed(
    skill: FilesSkill, root: Path, text: str, status: str
) -> None:
    write(root / "notes" / "todo.txt", "a")
    write(root / "work" / "todo.md", "b")
    write(root / "photo.jpg", b"\xff\xd8\x00\x01")
    result = skill.handle(Request(text))
    assert result.status == status, result.spoken


def test_the_plugin_uses_the_files_root_setting(root: Path) -> None:
    ctx = SimpleNamespace(settings=SimpleNamespace(agents=SimpleNamespace(files_root=root)))
    skill = find_skill("files").factory(ctx, NoConfig())
    assert say(skill, "list my files") == (
        "Your VoiceAgent folder has 1 folder, notes, and no files."
    )
    assert (root / "notes").is_dir()


# --- the sandbox -----------------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path, root: Path, skill: FilesSkill, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Secrets around the root: a sibling file, a sibling folder, and a fake home."""
    write(tmp_path / "secret.txt", "parent secret\n")
    write(tmp_path / "outside" / "secret.txt", "outside secret\n")
    write(tmp_path / "home" / ".bashrc", "export SECRET=1\n")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write(root / "notes" / "todo.txt", "milk\n")
    return tmp_path


ESCAPES = [
    "read ../secret.txt",
    "read notes/../../secret.txt",
    "read /etc/passwd",
    "read ~/.bashrc",
    "read ..%2Fsecret.txt",
    "read %2e%2e/secret.txt",
    "read %252e%252e%252fsecret.txt",
    "read ..\\secret.txt",
    "open the file ../outside/secret.txt",
    "what's in ../outside",
    "what's in /etc",
    "list the files in ../",
    "list the files in ~",
    "list the files in notes/../..",
    "add evil to ../secret.txt",
    "append evil to notes/../../secret.txt",
    "add evil to /etc/passwd",
    "add evil to ~/.bashrc",
    "put evil on ..%2Fsecret.txt",
    "find ../secret",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_escape_attempts_refused(world: Path, root: Path, skill: FilesSkill, text: str) -> None:
    before = everything_outside(world, root)
    assert say(skill, text) == OUTSIDE
    assert everything_outside(world, root) == before


def test_symlinked_file_pointing_outside(world: Path, root: Path, skill: FilesSkill) -> None:
    (root / "notes" / "link.txt").symlink_to(world / "outside" / "secret.txt")
    before = everything_outside(world, root)
    for text in (
        "read link",
        "read link.txt",
        "read notes/link.txt",
        "what's in my link note",
        "add hacked to link",
        "append hacked to link.txt",
    ):
        assert say(skill, text) == OUTSIDE, text
    # Not listed or found either.
    assert say(skill, "list my notes") == "Your notes folder has 1 file: todo.txt."
    assert say(skill, "search for link") == "I couldn't find any file matching link."
    # A new note of that name goes beside the link, not through it.
    assert say(skill, "create a note called link saying hacked") == (
        "You already have a note called link.txt, so I saved this one as link-2.txt."
    )
    assert everything_outside(world, root) == before


def test_symlinked_folder_pointing_outside(world: Path, root: Path, skill: FilesSkill) -> None:
    (root / "shared").symlink_to(world / "outside", target_is_directory=True)
    before = everything_outside(world, root)
    for text in (
        "list the files in my shared folder",
        "what's in shared",
        "read shared/secret.txt",
        "add hacked to shared/secret.txt",
    ):
        assert say(skill, text) == OUTSIDE, text
    assert say(skill, "find secret") == "I couldn't find any file matching secret."
    assert (
        say(skill, "list my files") == "Your VoiceAgent folder has 1 folder, notes, and no files."
    )
    assert everything_outside(world, root) == before


def test_notes_folder_symlinked_outside(world: Path, tmp_path: Path) -> None:
    root = tmp_path / "Other" / "VoiceAgent"
    root.mkdir(parents=True)
    (root / "notes").symlink_to(world / "outside", target_is_directory=True)
    skill = FilesSkill(root)
    before = everything_outside(world, root)
    assert say(skill, "create a note called plan saying escape") == OUTSIDE
    assert say(skill, "add escape to my plan note") == OUTSIDE
    assert everything_outside(world, root) == before


def test_dangling_symlink_is_never_written_through(world: Path, root: Path, skill: FilesSkill):
    target = world / "outside" / "ghost.txt"
    (root / "notes" / "ghost.txt").symlink_to(target)
    assert say(skill, "add boo to ghost") == OUTSIDE
    assert say(skill, "create a note called ghost saying boo") == (
        "You already have a note called ghost.txt, so I saved this one as ghost-2.txt."
    )
    assert not target.exists()
    assert (root / "notes" / "ghost-2.txt").read_text(encoding="utf-8") == "boo\n"


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("../../evil", "evil.txt"),
        ("/etc/passwd", "etc-passwd.txt"),
        ("~/.bashrc", "bashrc.txt"),
        ("..%2F..%2Fevil", "2f-2fevil.txt"),
        ("notes/../../../x.txt", "notes-x.txt"),
    ],
)
def test_note_names_cannot_become_paths(
    world: Path, root: Path, skill: FilesSkill, name: str, file: str
) -> None:
    before = everything_outside(world, root)
    assert say(skill, f"create a note called {name} saying hi") == (
        f"I saved your note as {file} in your notes folder."
    )
    assert (root / "notes" / file).read_text(encoding="utf-8") == "hi\n"
    assert everything_outside(world, root) == before


# --- saving an earlier result ----------------------------------------------------------------

WEATHER = Result(
    "In Tokyo it's 18 degrees and sunny.", value={"temperature": 18}, data={"city": "Tokyo"}
)


def save(skill: FilesSkill, text: str, previous: Result | None = WEATHER) -> Result:
    return skill.handle(Request(text, previous=previous))


def notes(root: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((root / "notes").iterdir())}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("save it", "in-tokyo-its-18-degrees.txt"),
        ("Save that, please.", "in-tokyo-its-18-degrees.txt"),
        ("save the result in my notes", "in-tokyo-its-18-degrees.txt"),
        ("write that down", "in-tokyo-its-18-degrees.txt"),
        ("could you jot it down", "in-tokyo-its-18-degrees.txt"),
        ("save it to a new note", "in-tokyo-its-18-degrees.txt"),
        ("save the weather to a note", "weather.txt"),
        ("save the forecast in my notes", "forecast.txt"),
        ("save that to a note called Tokyo weather", "tokyo-weather.txt"),
        ("put it in a note called trip", "trip.txt"),
        ("save it as packing", "packing.txt"),
    ],
)
def test_save_the_previous_result_in_a_new_note(
    skill: FilesSkill, root: Path, text: str, name: str
) -> None:
    result = save(skill, text)
    assert result.spoken == f"I saved that as {name} in your notes folder."
    assert notes(root) == {name: "In Tokyo it's 18 degrees and sunny.\n"}
    assert result.value == f"notes/{name}"
    assert result.data == {
        "action": "save",
        "text": WEATHER.spoken,
        "refer_as": f"my {name.removesuffix('.txt')} note",
    }


def test_save_to_a_named_note_that_exists_adds_to_it(skill: FilesSkill, root: Path) -> None:
    write(root / "notes" / "tokyo-weather.txt", "Yesterday: rain.\n")
    write(root / "notes" / "groceries.txt", "milk\n")
    assert save(skill, "save that to a note called Tokyo weather").spoken == (
        "I added that to tokyo-weather.txt."
    )
    assert save(skill, "add that to my groceries note").spoken == "I added that to groceries.txt."
    assert notes(root) == {
        "groceries.txt": "milk\nIn Tokyo it's 18 degrees and sunny.\n",
        "tokyo-weather.txt": "Yesterday: rain.\nIn Tokyo it's 18 degrees and sunny.\n",
    }


def test_a_note_called_x_is_that_note_not_one_containing_x(skill: FilesSkill, root: Path):
    write(root / "notes" / "tokyo-weather.txt", "Yesterday: rain.\n")
    assert save(skill, "save it to a note called weather").spoken == (
        "I saved that as weather.txt in your notes folder."
    )
    assert notes(root)["tokyo-weather.txt"] == "Yesterday: rain.\n"


def test_saved_names_never_replace_a_note(skill: FilesSkill, root: Path) -> None:
    write(root / "notes" / "weather.txt", "original\n")
    assert save(skill, "save the weather to a note").spoken == (
        "I saved that as weather-2.txt in your notes folder."
    )
    assert save(skill, "save the weather to a note").value == "notes/weather-3.txt"
    assert notes(root)["weather.txt"] == "original\n"


@pytest.mark.parametrize("previous", [None, Result("Which city?", status="ask")])
@pytest.mark.parametrize("text", ["save it", "write that down", "save the weather to a note"])
def test_nothing_to_save(skill: FilesSkill, root: Path, text: str, previous: Result | None):
    result = save(skill, text, previous)
    assert (result.spoken, result.status) == ("There's nothing to save yet.", "failed")
    assert notes(root) == {}


def test_save_words_a_number_was_put_in_for(skill: FilesSkill, root: Path) -> None:
    """ "save the result in my notes" after a sum reaches the skill as "save 175 in my notes"."""
    assert save(skill, "save 175 in my notes", None).spoken == (
        "I saved that as 175.txt in your notes folder."
    )
    assert notes(root) == {"175.txt": "175\n"}


def test_the_old_phrasings_still_write_their_own_words(skill: FilesSkill, root: Path) -> None:
    assert save(skill, "jot this down pick up the dry cleaning").spoken == (
        "I saved your note as pick-up-the-dry-cleaning.txt in your notes folder."
    )
    assert save(skill, "add eggs to my groceries note").spoken == (
        "You had no note called groceries, so I started groceries.txt with that."
    )


# --- refer_as: the phrase a later request uses in place of "it" ------------------------------


def test_refer_as_reads_and_adds_to_the_same_note(skill: FilesSkill, root: Path) -> None:
    created = skill.handle(Request("create a note called groceries saying milk"))
    refer_as = created.data["refer_as"]
    assert refer_as == "my groceries note"
    assert say(skill, f"add bread to {refer_as}") == "I added bread to groceries.txt."
    assert say(skill, f"read {refer_as}") == "groceries.txt says: milk. bread."


@pytest.mark.parametrize(
    ("text", "refer_as"),
    [
        ("read groceries.md", "my groceries.md note"),  # groceries.txt is there too
        ("read work/plan.md", "my work/plan.md file"),  # and notes/plan.txt, home/plan.md
        ("read ideas", "my ideas file"),
        ("read the trip to rome note", "my trip-to-rome note"),
    ],
)
def test_refer_as_names_one_file_only(skill: FilesSkill, root: Path, text: str, refer_as: str):
    for path in ("notes/groceries.txt", "notes/groceries.md", "notes/plan.txt", "work/plan.md",
                 "home/plan.md", "ideas.txt", "notes/trip-to-rome.txt"):  # fmt: skip
        write(root / path, "x\n")
    read = skill.handle(Request(text))
    assert read.data["refer_as"] == refer_as
    assert skill.handle(Request(f"read {refer_as}")).value == read.value
    assert say(skill, f"add y to {refer_as}") == f"I added y to {Path(read.value).name}."


def test_no_refer_as_when_every_phrase_would_be_cut(skill: FilesSkill, root: Path) -> None:
    write(root / "notes" / "bus to work.txt", "x\n")
    read = skill.handle(Request("read bus to work.txt"))
    assert read.value == "notes/bus to work.txt" and "refer_as" not in read.data


def test_the_app_saves_the_last_answer(tmp_path: Path) -> None:
    root = tmp_path / "files"
    settings = load_settings(
        "speed", [f"store.path={tmp_path / 'va.db'}", f"agents.files_root={root}"]
    )
    app = build(settings)
    app.ask("what is 25 times 7")
    record = app.ask("save it")
    assert record.agent == "files"
    assert record.answer == "I saved that as 25-times-7-is-175.txt in your notes folder."
    assert (root / "notes" / "25-times-7-is-175.txt").read_text() == "25 times 7 is 175.\n"
    app.close()
