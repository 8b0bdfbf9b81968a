"""CRIU image files as pycriu's ``images`` module shows them, decoded by
the libcriu-rs core.

``load``/``loads`` give the same dicts as ``pycriu.images.load``/``loads``
(``{"magic": NAME, "entries": [...]}`` with pycriu's field conventions:
enums by name, bytes as base64, and with ``pretty=True`` hex numbers,
``major:minor`` devices, flag names and IP addresses); ``dump``/``dumps``
turn such a dict back into the image's bytes; ``info`` gives the magic
name and the number of entries. ``stats`` reads an images directory's
``stats-dump`` and ``stats-restore``.

Unlike pycriu, ``dump``/``dumps`` leave the dict they are given unchanged,
and images pycriu has no handler for (signal queues, pidfds, binfmt_misc)
are read too. Damaged images raise ValueError; an unknown magic raises
MagicException, as in pycriu.
"""
from typing import Any, BinaryIO, Dict, Optional, Tuple

from . import _libcriu

__all__ = ["MagicException", "load", "loads", "dump", "dumps", "info", "stats"]


class MagicException(Exception):
    """The data does not start with a CRIU image magic number (raw data
    such as pages-*.img has none); ``magic`` is the number found."""

    def __init__(self, magic: int) -> None:
        super().__init__("unknown magic %#x" % magic)
        self.magic = magic


def loads(s: bytes, pretty: bool = False, no_payload: bool = False) -> Dict[str, Any]:
    """The image in ``s`` as a dict."""
    return _libcriu.images_loads(bytes(s), pretty, no_payload)


def load(f: BinaryIO, pretty: bool = False, no_payload: bool = False) -> Dict[str, Any]:
    """The image read from the binary file ``f`` as a dict; with
    ``no_payload``, payloads (pipe data, ghost file contents...) are shown
    by their size only."""
    return loads(f.read(), pretty, no_payload)


def dumps(img: Dict[str, Any]) -> bytes:
    """The bytes of the image given as a dict."""
    return _libcriu.images_dumps(img)


def dump(img: Dict[str, Any], f: BinaryIO) -> None:
    """Writes the image given as a dict to the binary file ``f``."""
    f.write(dumps(img))


def info(f: BinaryIO) -> Dict[str, Any]:
    """``{"magic": NAME, "count": N}`` of the image read from ``f``."""
    return _libcriu.images_info(f.read())


def stats(images_dir: Any) -> Tuple[Optional[Dict[str, int]], Optional[Dict[str, int]]]:
    """``(dump, restore)``: the statistics criu wrote to ``images_dir``
    (stats-dump and stats-restore), each a dict of stats_entry's fields
    (times in microseconds, counts in pages) or None when absent."""
    return _libcriu.image_stats(str(images_dir))
