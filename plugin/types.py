"""Small value types shared by the plugin hooks and the built-in extractors.

They live apart from the hook specifications so that an extractor can be written (and
type-checked) against them without importing pluggy or the plugin manager. The values the
engine builds (``ExtractContext``, ``ChatFn``) are the engine's (``sleepmem.engine.hooks``)
and are re-exported here, where plugins have always imported them from.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from sleepmem.engine.facts import Fact, ForgetRequest
from sleepmem.engine.hooks import ChatFn, ExtractContext

__all__ = ["ChatFn", "ExtractContext", "Extractor", "Fact", "ForgetRequest"]


@runtime_checkable
class Extractor(Protocol):
    """Turns one user message into facts about that user.

    ``name`` identifies the extractor in logs, in ``Fact.extractor`` and when a caller wants
    to pick extractors. ``extract`` must never raise on odd input: return ``[]`` instead.
    """

    name: str

    def extract(self, message: str, context: ExtractContext) -> list[Fact]: ...
