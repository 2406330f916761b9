"""``python -m flows.sweep``: see :mod:`flows.sweep.cli`."""

import sys

from .cli import main

if __name__ == "__main__":  # also keeps spawned worker processes from running the sweep again
    sys.exit(main())
