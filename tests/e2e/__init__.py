"""End-to-end tests: the real ``sleepmem serve`` process driven from a real browser
(headless Chromium through playwright), and SillyTavern itself. Marked ``browser`` and
``model``; skipped with the reason when Chromium, playwright, node or the vendored app are
missing."""
