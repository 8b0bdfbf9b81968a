"""pycriu's ``images`` module: CRIU image files to dicts and back
(``libcriu.images``, with pycriu's exact dict layout)."""

from libcriu.images import *  # noqa: F401,F403
from libcriu.images import MagicException, dump, dumps, info, load, loads  # noqa: F401
