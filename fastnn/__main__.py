"""``python -m fastnn``: the same as the ``fastnn`` command (see :mod:`fastnn.cli`)."""

import sys

from .cli import main

sys.exit(main())
