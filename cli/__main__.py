"""``python -m cli``: the ``profbot`` command."""

import sys

from cli import main

sys.exit(main())
