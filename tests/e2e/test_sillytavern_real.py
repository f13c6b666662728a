"""SillyTavern itself (the vendored release) with sleepmem's extension, driven in headless
Chromium against a real ``sleepmem serve``: the guide's steps done in the real UI.

One SillyTavern with user accounts on. Its first user connects the Chat Completion
"Custom (OpenAI-compatible)" source to sleepmem, picks a character, tells a fact, starts
a new chat and asks for it; types ``/memories`` and ``/sleep``. A second account then gets
nothing of it. Screenshots of every step and the seconds each took land in the output
folder (``sillytavern-timings.json``).
"""

from __future__ import annotations

import shutil
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from .sillytavern import VERSION, SillyTavern, tarball
from .steps import Steps

pytestmark = pytest.mark.browser

EDIT = 15 * 60_000  # ms: an edit or a sleep on a busy 2-core CPU
REPLY = 5 * 60_000  # ms: one reply of the small model, SillyTavern's prompt included


def expect() -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect


@pytest.fixture
def sillytavern(tmp_path: Path, e2e_out: Path):
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (SillyTavern needs Node.js)")
    source = tarball()
    if not source.is_file():
        pytest.skip(f"SillyTavern {VERSION} is not vendored at {source}")
    st = SillyTavern(tmp_path / "SillyTavern", e2e_out / "sillytavern.log").install(source)
    st.configure(enableUserAccounts="true", skipContentCheck="false")
    yield st.start()
    st.stop()


def open_drawer(page: Any, button: str, content: str) -> None:
    if not page.locator(content).is_visible():
        page.click(f"{button} .drawer-toggle")
    expect()(page.locator(content)).to_be_visible()


def first_run(page: Any) -> None:
    """SillyTavern's welcome popup asks each new account for a persona name: keep the one
    it proposes (the account's name: "User" for default-user), as most people do."""
    page.locator(".popup-button-ok:visible").click()
    expect()(page.locator(".popup:visible")).to_have_count(0)


def connect(page: Any, sleepmem_url: str) -> None:
    """API Connections > Chat Completion > Custom (OpenAI-compatible), as the guide says."""
    open_drawer(page, "#sys-settings-button", "#rm_api_block")
    page.select_option("#main_api", "openai")
    page.select_option("#chat_completion_source", "custom")
    page.fill("#custom_api_url_text", sleepmem_url + "/v1")
    page.click("#api_button_openai")
    expect()(page.locator("#model_custom_select option[value=sleepmem]")).to_have_count(1)
    page.select_option("#model_custom_select", "sleepmem")
    expect()(page.locator("#API-status-top")).not_to_have_class("fa-plug-circle-exclamation")


def extension_settings(page: Any, sleepmem_url: str) -> str:
    """Extensions > sleepmem: the server URL, then Test connection; returns its answer."""
    open_drawer(page, "#extensions-settings-button", "#rm_extensions_block")
    drawer = page.locator(".sleepmem-settings")
    if not page.locator("#sleepmem_server_url").is_visible():
        drawer.locator(".inline-drawer-toggle").click()
    page.fill("#sleepmem_server_url", sleepmem_url)
    page.click("#sleepmem_test")
    status = page.locator("#sleepmem_status")
    expect()(status).to_contain_text("Connected", timeout=30_000)
    return status.inner_text()


def close_drawers(page: Any) -> None:
    page.mouse.click(640, 500)  # a click on the chat closes the open top drawer
    page.keyboard.press("Escape")


def choose_character(page: Any, name: str) -> None:
    open_drawer(page, "#rightNavHolder", "#right-nav-panel")
    page.click("#rm_button_characters")
    page.locator(f"#rm_print_characters_block .character_select:has-text('{name}')").click()
    expect()(page.locator("#chat .mes").first).to_contain_text(name)


def send(page: Any, text: str) -> None:
    page.fill("#send_textarea", text)
    page.press("#send_textarea", "Enter")


def reply_to(page: Any, text: str) -> str:
    """Send a chat message and wait for the character's answer; returns its text."""
    before = page.locator("#chat .mes").count()
    send(page, text)
    last = page.locator("#chat .mes").last
    expect()(page.locator("#chat .mes")).to_have_count(before + 2, timeout=REPLY)
    expect()(page.locator("#mes_stop")).to_be_hidden(timeout=REPLY)
    expect()(last).to_have_attribute("is_user", "false")
    return last.locator(".mes_text").inner_text()


def command(page: Any, text: str, wait_for: str, timeout: int = 60_000) -> str:
    """Type a slash command; returns the extension's system message once it says
    ``wait_for``."""
    send(page, text)
    message = page.locator("#chat .mes[is_system=true]").filter(has_text=wait_for).last
    expect()(message).to_be_visible(timeout=timeout)
    return message.locator(".mes_text").inner_text()


def new_chat(page: Any) -> None:
    page.click("#options_button")
    page.click("#option_start_new_chat")
    page.locator(".popup-button-ok:visible").click()
    expect()(page.locator("#chat .mes")).to_have_count(1)  # just the greeting


def memory_of(server: Any, user: str) -> list[str]:
    query = urllib.parse.urlencode({"user": user})
    return [f["answer"] for f in server.api("GET", f"/v1/memory?{query}")["facts"]]


def test_sillytavern_remembers_per_account(
    browser, sleepmem_server, sillytavern, shot, e2e_out
) -> None:
    st = sillytavern
    server = sleepmem_server(server={"cors_origins": [st.url]})
    steps = Steps(shot, e2e_out, "sillytavern", VERSION)
    try:
        run_the_guide(browser, st, server, steps)
    finally:
        steps.save(st.timings)


def run_the_guide(browser: Any, st: SillyTavern, server: Any, steps: Steps) -> None:
    see = expect()
    first = browser.new_context(viewport={"width": 1280, "height": 900})
    page = first.new_page()
    page.goto(st.url + "/")  # the only account without a password logs in by itself
    first_run(page)
    steps.done(page, "welcome")

    connect(page, server.url)
    steps.done(page, "connected")
    answer = extension_settings(page, server.url)
    # accounts are on: the memory is the account's, not just the persona "User"
    assert answer == 'Connected: memory "default-user:User" has 0 facts.', answer
    steps.done(page, "extension-connected")
    close_drawers(page)

    choose_character(page, "Seraphina")
    steps.done(page, "character")
    reply_to(page, "I live in Porto.")
    steps.done(page, "told-a-fact")
    # The edit runs after the reply: wait for the server's word that it is written.
    status = server.wait_idle("user=default-user%3AUser")
    assert status["facts"] >= 1 and "Porto" in memory_of(server, "default-user:User")
    steps.done(page, "fact-written")

    new_chat(page)
    answer = reply_to(page, "Where do I live?")
    steps.done(page, "recalled-in-new-chat")
    assert "porto" in answer.casefold(), answer

    listing = command(page, "/memories", "sleepmem remembers")
    assert "default-user:User" in listing and "Porto" in listing, listing
    steps.done(page, "memories-command")
    slept = command(page, "/sleep", "Slept", timeout=EDIT)
    assert "facts" in slept and "recall" in slept, slept
    steps.done(page, "sleep-command")

    # A second account, made by the admin (the first account) through SillyTavern's API.
    made = page.evaluate(
        """async () => {
            const headers = SillyTavern.getContext().getRequestHeaders();
            const r = await fetch('/api/users/create', {method: 'POST', headers,
                body: JSON.stringify({handle: 'bea', name: 'Bea'})});
            return [r.status, await r.text()];
        }"""
    )
    assert made[0] == 200, made
    st.install_extension("bea")  # 1.12.6 loads extensions per account
    second = browser.new_context(viewport={"width": 1280, "height": 900})
    other = second.new_page()
    other.goto(st.url + "/login")
    other.locator(".userSelect", has_text="bea").click()
    first_run(other)
    connect(other, server.url)
    answer = extension_settings(other, server.url)
    # the welcome popup proposed the account's name as the persona
    assert answer == 'Connected: memory "bea:Bea" has 0 facts.', answer
    close_drawers(other)
    choose_character(other, "Seraphina")
    nothing = command(other, "/memories", "remembers nothing")
    assert "bea:Bea" in nothing, nothing
    answer = reply_to(other, "Where do I live?")
    steps.done(other, "second-account-does-not-know")
    assert "porto" not in answer.casefold(), answer
    assert memory_of(server, "bea:Bea") == []
    see(page.locator("#chat")).to_contain_text("Porto")  # the first account still has it

    # sleepmem gone while SillyTavern is in use: the commands say so in words
    server.stop()
    down = command(page, "/memories", "not reachable", timeout=30_000)
    assert server.url in down, down
    steps.done(page, "sleepmem-down")
    first.close()
    second.close()
