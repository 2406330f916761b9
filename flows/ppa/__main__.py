"""``python -m flows.ppa``: see :mod:`flows.ppa.cli`."""

import sys

from .cli import main

sys.exit(main())
