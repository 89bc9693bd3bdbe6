"""``python -m profbot.cli``: the ``profbot`` command."""

import sys

from profbot.cli import main

sys.exit(main())
