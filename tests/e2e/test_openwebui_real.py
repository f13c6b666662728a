"""Open WebUI itself (from PyPI) with sleepmem's two Functions, driven in headless Chromium
against a real ``sleepmem serve``: the guide's steps done in the real UI.

The admin and a second user are made through Open WebUI's API, both Functions imported
through it (the pipe and the buttons, switched on, the buttons global). Then, in the
browser: the admin tells a fact, a new chat recalls it, "Show my memories" and "Sleep now"
under a reply answer, the OpenAI-connection model (route B, forwarded user headers) reaches
the same memory, the second user gets none of it, and with sleepmem stopped the chat says
so instead of spinning. Screenshots and the seconds of each step land in the output folder
(``openwebui-timings.json``).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pytest
from sleepmem.adapters.openwebui import FUNCTION_FILE

from .openwebui import VERSION, OpenWebUI, executable
from .steps import Steps

pytestmark = pytest.mark.browser

REPLY = 5 * 60_000  # ms: one reply of the small model on a busy 2-core CPU
ADMIN = {"name": "Ada Lindqvist", "email": "ada@example.com", "password": "Sleepmem-e2e-1"}
OTHER = {"name": "Bo Tanaka", "email": "bo@example.com", "password": "Sleepmem-e2e-2"}
PIPE_MODEL = "sleepmem.sleepmem"  # Open WebUI names a pipe's model <function id>.<model id>
CONNECTION_MODEL = "sleepmem"  # the model sleepmem lists at /v1/models


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def stack(tmp_path: Path, e2e_out: Path, sleepmem_server):
    exe = executable()
    if exe is None:
        pytest.skip("Open WebUI is not installed: see the README, 'Open WebUI, for real'")
    server = sleepmem_server()
    started = time.monotonic()
    owui = OpenWebUI(exe, tmp_path / "openwebui-data", e2e_out / "openwebui.log")
    owui.start(server.url)
    boot = time.monotonic() - started
    admin = owui.api("POST", "/api/v1/auths/signup", ADMIN)
    other = owui.api("POST", "/api/v1/auths/add", {**OTHER, "role": "user"}, admin["token"])
    valves = {"SLEEPMEM_URL": server.url}
    owui.add_function(admin["token"], "sleepmem", FUNCTION_FILE, valves)
    action = FUNCTION_FILE.with_name("sleepmem_openwebui_action.py")
    owui.add_function(admin["token"], "sleepmem_buttons", action, valves)
    owui.api("POST", "/api/v1/functions/id/sleepmem_buttons/toggle/global", None, admin["token"])
    # The guide's step 3A.4: make the model public for other users. Open WebUI 0.12.4 lets a
    # non-admin chat under BYPASS_MODEL_ACCESS_CONTROL, but its buttons (actions) still
    # check that the model is registered and readable (Admin > Settings > Models).
    everyone = [{"principal_type": "user", "principal_id": "*", "permission": "read"}]
    model = {"id": PIPE_MODEL, "name": "sleepmem", "meta": {}, "params": {}}
    owui.api("POST", "/api/v1/models/create", {**model, "access_grants": everyone}, admin["token"])
    try:
        yield server, owui, admin, other, boot
    finally:
        owui.stop()


def sign_in(page: Any, owui: OpenWebUI, account: dict[str, str]) -> None:
    page.goto(owui.url + "/auth")
    page.fill("input[name=email]", account["email"])
    page.fill("input[name=password]", account["password"])
    page.click("button:has-text('Sign in')")
    page.wait_for_url(owui.url + "/")
    # a first sign-in opens the release notes over the chat
    from playwright.sync_api import TimeoutError as NoNotes

    with contextlib.suppress(NoNotes):
        page.get_by_text("Okay, Let's Go!").click(timeout=8000)


def new_chat(page: Any, owui: OpenWebUI, model: str) -> None:
    """A new chat with ``model`` chosen (Open WebUI's ``?model=`` link)."""
    page.goto(f"{owui.url}/?model={model}")
    expect()(page.locator("#chat-input")).to_be_visible()


def say(page: Any, text: str) -> str:
    """Send ``text`` and wait for the whole reply; its text."""
    replies = page.locator("#response-content-container")
    before = replies.count()
    page.locator("#chat-input").fill(text)
    page.keyboard.press("Enter")
    expect()(replies).to_have_count(before + 1, timeout=REPLY)
    return settled(page, replies.nth(before))


def settled(page: Any, reply: Any) -> str:
    """The reply's text once it has stopped changing (streaming done)."""
    deadline = time.monotonic() + REPLY / 1000
    last, same = None, 0
    while time.monotonic() < deadline:
        now = reply.inner_text()
        same = same + 1 if now == last and now.strip() else 0
        if same >= 3:
            return now
        last = now
        page.wait_for_timeout(1000)
    raise AssertionError(f"the reply never settled: {last!r}")


def press(page: Any, label: str, marker: str) -> str:
    """Click a button under the last reply; the reply's text once ``marker`` shows in it."""
    reply = page.locator("#response-content-container").last
    page.locator(f"button[aria-label='{label}']").last.click()
    expect()(reply).to_contain_text(marker, timeout=REPLY * 3)
    return settled(page, reply)


def test_open_webui_remembers_per_user_through_the_real_ui(stack, browser, shot, e2e_out):
    server, owui, admin, other, boot = stack
    steps = Steps(shot, e2e_out, "openwebui", VERSION)
    setup = {"open_webui_start_s": round(boot, 1)}
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    sign_in(page, owui, ADMIN)
    steps.done(page, "admin-signed-in")
    new_chat(page, owui, PIPE_MODEL)
    say(page, "Hi! I live in Porto, by the river.")
    steps.done(page, "fact-told")
    server.wait_idle(f"user={admin['id']}")
    facts = server.api("GET", f"/v1/memory?user={admin['id']}")["facts"]
    assert any(f["answer"] == "Porto" for f in facts), facts
    steps.done(page, "edit-written")

    new_chat(page, owui, PIPE_MODEL)
    answer = say(page, "Where do I live?")
    steps.done(page, "fresh-chat-recalls")
    assert "porto" in answer.lower(), answer

    shown = press(page, "Show my memories", "sleepmem · your memories")
    steps.done(page, "show-my-memories")
    assert "Porto" in shown, shown
    slept = press(page, "Sleep now", "sleepmem · sleep")
    steps.done(page, "sleep-now")
    assert "unavailable" not in slept and "answered 4" not in slept, slept
    assert server.api("GET", f"/v1/memory/status?user={admin['id']}")["last_sleep"], slept

    # Route B: the plain OpenAI connection, the user named by Open WebUI's forwarded headers
    new_chat(page, owui, CONNECTION_MODEL)
    via_connection = say(page, "Where do I live?")
    steps.done(page, "connection-route-recalls")
    assert "porto" in via_connection.lower(), via_connection

    second = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(second, owui, OTHER)
    new_chat(second, owui, PIPE_MODEL)
    theirs = say(second, "Where do I live?")
    steps.done(second, "second-user-asks")
    assert "porto" not in theirs.lower(), theirs
    listed = press(second, "Show my memories", "sleepmem · your memories")
    steps.done(second, "second-user-memories")
    assert "Porto" not in listed, listed
    assert server.api("GET", f"/v1/memory?user={other['id']}")["facts"] == []

    server.stop()  # sleepmem goes away while the app is open
    new_chat(page, owui, PIPE_MODEL)
    down = say(page, "Are you there?")
    steps.done(page, "sleepmem-down")
    assert "not reachable" in down, down
    steps.save(setup, key="open_webui")
