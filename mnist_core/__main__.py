"""Entry point for `python -m mnist_core`."""

import sys

from mnist_core.cli.main import main

sys.exit(main())
