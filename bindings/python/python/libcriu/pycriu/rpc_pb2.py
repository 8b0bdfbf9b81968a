"""criu's RPC messages (upstream pycriu's generated module of this name)."""

from libcriu._rpc import *  # noqa: F401,F403 -- the module's whole content
from libcriu._rpc import DESCRIPTOR  # noqa: F401
