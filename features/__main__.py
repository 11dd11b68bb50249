"""Entry point for `python -m features`."""

import sys

from .cli import main

sys.exit(main())
