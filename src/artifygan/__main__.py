"""``python -m artifygan`` (and ``torchrun -m artifygan train ...``)."""

import sys

from .cli import main

sys.exit(main())
