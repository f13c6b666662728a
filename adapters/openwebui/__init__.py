"""Open WebUI integration: ``sleepmem_openwebui.py`` is a single-file Open WebUI Function
(a Pipe exposing sleepmem's models and an Action with "Sleep now" / "Show my memories")
that a user pastes into Admin > Functions. It imports nothing from sleepmem, because Open
WebUI runs it in its own process; ``FUNCTION_FILE`` is its path for installers and tests."""

from pathlib import Path

FUNCTION_FILE = Path(__file__).with_name("sleepmem_openwebui.py")
