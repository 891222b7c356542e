"""``python -m sumbench.cli``: what ``torchrun --module sumbench.cli`` starts on each rank."""

import sys

from sumbench.cli import main

sys.exit(main())
