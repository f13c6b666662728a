"""sleepmem: per-user memory that lives in a local chat model's weights."""

__version__ = "0.1.0"
