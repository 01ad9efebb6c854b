"""`python -m bms` is the `bms` command."""

import sys

from bms.cli import main

sys.exit(main())
