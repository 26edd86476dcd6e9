"""Exemplar embeddings kept on disk and shared by every process: computed by one process at a
time and replaced atomically, so ten `ask`s started together embed the examples once, and
none ever reads a half-written file."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def shared(path: Path, rows: int, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The matrix cached at `path` (`rows` embeddings), else `compute()`d and cached there.
    A cache that cannot be written (read-only, disk full) costs only the saving."""
    found = _read(path, rows)
    if found is not None:
        return found
    with _locked(path.parent):
        found = _read(path, rows)  # another process may have written it while we waited
        if found is None:
            found = compute()
            _write(path, found)
    return found


def _read(path: Path, rows: int) -> np.ndarray | None:
    try:
        matrix = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # missing, or damaged: computed again
        return None
    return matrix if matrix.ndim == 2 and matrix.shape[0] == rows else None


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold the folder's lock file (beside it, so the folder holds only embeddings); without
    one (no fcntl, a read-only cache), go on alone."""
    try:
        import fcntl

        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder.with_name(f"{folder.name}.lock"), "a")
    except (ImportError, OSError):
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _write(path: Path, matrix: np.ndarray) -> None:
    tmp = None
    try:
        with tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp", delete=False
        ) as handle:
            tmp = handle.name
            np.save(handle, matrix)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not cache exemplar embeddings in %s: %s", path.parent, exc)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
