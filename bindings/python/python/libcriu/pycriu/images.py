"""pycriu's ``images`` module: CRIU image files to dicts and back.

This is ``libcriu.images`` when it is installed.
"""

from libcriu.images import *  # noqa: F401,F403 -- the module's whole content
