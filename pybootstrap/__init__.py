"""pybootstrap: a working, verified PyTorch install that matches the machine's GPU."""

__version__ = "0.1.0"
