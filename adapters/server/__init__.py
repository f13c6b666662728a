"""`sleepmem serve`: an OpenAI-compatible chat server whose model remembers each user.

- ``app``: the aiohttp application (routes, error shape, lifecycle);
- ``identity``: who is asking (API keys, Open WebUI's forwarded headers, the ``user`` field);
- ``openai_api``: ``/v1/models`` and ``/v1/chat/completions`` (JSON and server-sent events);
- ``memory_api``: the REST memory API (``/v1/memory/...``, ``/v1/admin/...``);
- ``page``: the memory page at ``/memory/`` (static files in ``static/``);
- ``errors``: OpenAI-shaped errors for every failure;
- ``runner``: binding, the loopback rule and running in the foreground or a thread.
"""
