import sys

from sim.golden.cli import main

sys.exit(main())
