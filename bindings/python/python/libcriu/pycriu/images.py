"""pycriu's ``images`` module: CRIU image files to dicts.

This is ``libcriu.images`` when that module is installed; otherwise the
inventory and statistics images only (``load``/``loads``).
"""

try:
    from libcriu.images import *  # noqa: F401,F403 -- the full module
except ImportError:
    from libcriu._pycriu_images import *  # noqa: F401,F403
    from libcriu._pycriu_images import MagicException, load, loads  # noqa: F401
