"""Discord front end: ``sleepmem discord`` runs a bot with per-user weight memory.

The Discord-free decisions (routing, splitting, memory keys, history, listening channels)
are importable without discord.py; ``bot`` needs the ``discord`` extra
(``pip install "sleepmem[discord]"``).
"""
