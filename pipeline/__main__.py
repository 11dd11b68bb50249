"""`python -m pipeline <command> [args]`: the same commands as `workbench`."""

import sys

from .cli import main

sys.exit(main(prog="python -m pipeline"))
