"""The SillyTavern extension's Node tests (tests/js/) against the real sleepmem server.

The server runs here on loopback, with SillyTavern's usual origin allowed for CORS as the
guide configures it; Node's built-in test runner drives the extension through a stand-in
for SillyTavern's extension API. Skipped only when `node` is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXTENSION = ROOT / "adapters" / "sillytavern" / "extension"


def test_manifest_has_the_fields_sillytavern_requires() -> None:
    manifest = json.loads((EXTENSION / "manifest.json").read_text())
    assert manifest["display_name"] and manifest["author"]
    for key in ("js", "css"):
        assert (EXTENSION / manifest[key]).is_file(), manifest[key]
    assert (EXTENSION / "settings.html").is_file()


def test_extension_files_ship_with_the_package() -> None:
    from sleepmem.adapters.sillytavern import EXTENSION_DIR

    names = {p.name for p in EXTENSION_DIR.iterdir()}
    assert {"manifest.json", "index.js", "sleepmem-client.js", "settings.html"} <= names


def test_installer_copies_the_extension_where_sillytavern_serves_it(tmp_path: Path) -> None:
    from sleepmem.adapters.sillytavern.__main__ import main

    # 1.12.6's layout: extensions are found only in each account's data folder
    st = tmp_path / "SillyTavern"
    (st / "public" / "scripts" / "extensions").mkdir(parents=True)
    (st / "src" / "endpoints").mkdir(parents=True)
    (st / "src" / "endpoints" / "extensions.js").write_text("router.get('/discover', ...)")
    assert main([str(st)]) == 0  # never started: the account its first start creates
    first = st / "data" / "default-user" / "extensions" / "sleepmem"
    assert (first / "manifest.json").read_bytes() == (EXTENSION / "manifest.json").read_bytes()
    (st / "data" / "bea").mkdir()
    (st / "data" / "_storage").mkdir()  # SillyTavern's own, not an account
    assert main([str(st)]) == 0  # again: replaces, and reaches every account
    assert (st / "data" / "bea" / "extensions" / "sleepmem" / "index.js").is_file()
    assert not (st / "data" / "_storage" / "extensions").exists()
    assert not (st / "public" / "scripts" / "extensions" / "third-party").exists()
    assert main([str(st), "--user", "cy"]) == 0
    assert (st / "data" / "cy" / "extensions" / "sleepmem" / "index.js").is_file()
    # releases that install "for all users" read the shared folder
    (st / "src" / "endpoints" / "extensions.js").write_text("const global = request.body.global")
    assert main([str(st)]) == 0
    shared = st / "public" / "scripts" / "extensions" / "third-party" / "sleepmem"
    assert (shared / "index.js").is_file()
    with pytest.raises(SystemExit, match="does not look like a SillyTavern folder"):
        main([str(tmp_path / "elsewhere")])


def test_node_suite_against_the_real_server(serve) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    server = serve(**{"server.cors_origins": ["http://localhost:8000"]})
    done = subprocess.run(
        [node, "--test", "tests/js/"],
        cwd=ROOT,
        env={"PATH": str(Path(node).parent), "SLEEPMEM_URL": server.url},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-6000:]
    assert "# fail 0" in report and "# skipped 0" in report, report[-3000:]
