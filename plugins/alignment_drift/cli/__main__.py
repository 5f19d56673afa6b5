"""``python -m alignment_drift.cli``: the ``alignment-drift`` command."""

import sys

from alignment_drift.cli import main

sys.exit(main())
