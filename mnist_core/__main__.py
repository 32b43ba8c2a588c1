"""``python -m mnist_core``: see mnist_core.cli."""

import sys

from .cli import main

sys.exit(main())
