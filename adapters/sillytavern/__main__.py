"""``python -m sleepmem.adapters.sillytavern SILLYTAVERN_DIR``: install the UI extension.

Where SillyTavern looks depends on its release. Releases that install extensions "for all
users" discover ``<SillyTavern>/public/scripts/extensions/third-party/``; earlier 1.12
releases (1.12.6 was checked for real) discover only each account's own
``<SillyTavern>/data/<handle>/extensions/``, and serve even the URL path
``/scripts/extensions/third-party/`` from there. So by default the extension goes where
this SillyTavern will find it: the shared folder when it has one, else every account that
exists (``default-user`` on a fresh install). ``--user HANDLE`` installs for one account,
e.g. one created later. SillyTavern's own "Install extension" button needs a git
repository with the manifest at its root, which sleepmem's repository is not; copying the
folder is the documented alternative.
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


def has_shared_extensions(sillytavern: Path) -> bool:
    """Does this SillyTavern discover extensions installed for all users? Those releases
    name them "global" in the server's extension routes; 1.12.6 has no such word there."""
    routes = sillytavern / "src" / "endpoints" / "extensions.js"
    return routes.is_file() and "global" in routes.read_text(errors="replace")


def accounts(sillytavern: Path) -> list[str]:
    """The account folders under data/ (SillyTavern keeps its own in "_storage" etc.);
    ``default-user`` when it has never run, the account its first start creates."""
    data = sillytavern / "data"
    if not data.is_dir():
        return ["default-user"]
    found = sorted(p.name for p in data.iterdir() if p.is_dir() and not p.name.startswith("_"))
    return found or ["default-user"]


def install(sillytavern: Path, user: str | None = None) -> list[Path]:
    """Copy the extension where this SillyTavern loads it (see the module's docstring);
    replaces earlier copies. Raises SystemExit with a message when the folder does not look
    like SillyTavern."""
    if not (sillytavern / "public" / "scripts" / "extensions").is_dir():
        raise SystemExit(
            f"{sillytavern} does not look like a SillyTavern folder "
            "(no public/scripts/extensions inside)"
        )
    if user:
        targets = [target_dir(sillytavern, user)]
    elif has_shared_extensions(sillytavern):
        targets = [target_dir(sillytavern, None)]
    else:
        targets = [target_dir(sillytavern, handle) for handle in accounts(sillytavern)]
    for dest in targets:
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(EXTENSION_DIR, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return targets


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
    st = args.sillytavern.expanduser()
    for dest in install(st, args.user):
        print(f"installed the sleepmem extension in {dest}")
    if not args.user and not has_shared_extensions(st):
        print(
            "this SillyTavern loads extensions per account: for an account created later, "
            "run this again with --user <its handle>"
        )
    print("reload SillyTavern to load it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
