"""``python -m flows.fpga``: see :mod:`flows.fpga.cli`."""

import sys

from .cli import main

sys.exit(main())
