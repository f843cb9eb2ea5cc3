"""Entry point for ``python -m pybootstrap``."""

from pybootstrap.cli import run

if __name__ == "__main__":
    run()
