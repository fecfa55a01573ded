"""``python -m qabot``: the same as the ``qabot`` command."""

import sys

from qabot.cli import main

sys.exit(main())
