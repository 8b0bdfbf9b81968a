"""The CRIU release whose pycriu API this module offers."""

__version__ = "4.2.1"
