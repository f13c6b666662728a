"""``python -m sleepmem.adapters.cli``: the same as the ``sleepmem`` command."""

import sys

from sleepmem.adapters.cli import main

sys.exit(main())
