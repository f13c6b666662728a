"""Writing an export folder safely: each file through a temporary name and a rename (a
reader never sees half an adapter), and an existing folder is only written into when it is
empty or the user said --force."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import InputError


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one step,
    on failure it is removed and ``path`` is left as it was."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def prepare_folder(folder: Path, force: bool, owned: Iterable[str]) -> Path:
    """Make ``folder`` ready for an export: created if absent; an existing non-empty one is
    refused unless ``force``, and then only the files named in ``owned`` (this exporter's
    own) are removed, never anything else the user keeps there."""
    folder = folder.expanduser()
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not force:
            raise InputError(
                f"{folder} exists and is not empty; pass --force to write the adapter into it"
            )
        for name in owned:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder
