"""``python -m sleepmem.adapters.sillytavern SILLYTAVERN_DIR``: install the UI extension.

Copies the extension into ``<SillyTavern>/public/scripts/extensions/third-party/sleepmem``
(installed for all users; SillyTavern serves every extension from that URL path), or with
``--user HANDLE`` into ``<SillyTavern>/data/HANDLE/extensions/sleepmem`` (one user).
SillyTavern's own "Install extension" button needs a git repository with the manifest at
its root, which sleepmem's repository is not; copying the folder is the documented
alternative.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from . import EXTENSION_DIR

FOLDER_NAME = "sleepmem"


def target_dir(sillytavern: Path, user: str | None) -> Path:
    if user:
        return sillytavern / "data" / user / "extensions" / FOLDER_NAME
    return sillytavern / "public" / "scripts" / "extensions" / "third-party" / FOLDER_NAME


def install(sillytavern: Path, user: str | None = None) -> Path:
    """Copy the extension; replaces an earlier copy. Raises SystemExit with a message when
    the folder does not look like SillyTavern."""
    if not (sillytavern / "public" / "scripts" / "extensions").is_dir():
        raise SystemExit(
            f"{sillytavern} does not look like a SillyTavern folder "
            "(no public/scripts/extensions inside)"
        )
    dest = target_dir(sillytavern, user)
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(EXTENSION_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sleepmem.adapters.sillytavern",
        description="Install sleepmem's SillyTavern extension into a SillyTavern folder.",
    )
    parser.add_argument("sillytavern", type=Path, nargs="?", help="the SillyTavern folder")
    parser.add_argument(
        "--user", help="install for one SillyTavern user handle only (e.g. default-user)"
    )
    parser.add_argument(
        "--print-path", action="store_true", help="print the extension's folder and exit"
    )
    args = parser.parse_args(argv)
    if args.print_path:
        print(EXTENSION_DIR)
        return 0
    if args.sillytavern is None:
        parser.error("give the SillyTavern folder")
    dest = install(args.sillytavern.expanduser(), args.user)
    print(f"installed the sleepmem extension in {dest}; reload SillyTavern to load it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
