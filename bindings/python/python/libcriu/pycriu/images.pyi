from libcriu.images import MagicException as MagicException
from libcriu.images import dump as dump
from libcriu.images import dumps as dumps
from libcriu.images import info as info
from libcriu.images import load as load
from libcriu.images import loads as loads
