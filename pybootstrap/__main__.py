"""Entry point for ``python -m pybootstrap``."""

import sys

from pybootstrap.cli import main

if __name__ == "__main__":
    sys.exit(main())
