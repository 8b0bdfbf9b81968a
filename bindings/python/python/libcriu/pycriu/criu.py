"""Upstream pycriu's ``criu`` module: the class and its exceptions."""

from libcriu._pycriu import (  # noqa: F401 -- re-exported
    CR_DEFAULT_SERVICE_ADDRESS,
    CRIUException,
    CRIUExceptionExternal,
    CRIUExceptionInternal,
    criu,
)
