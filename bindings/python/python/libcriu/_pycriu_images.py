"""pycriu's ``images`` API for the inventory and statistics images, the part
of it that ``test/zdtm.py --rpc`` and most scripts use, with pycriu's dict
layout: ``{"magic": "STATS", "entries": [{"dump": {...}}]}``. The full
module is ``libcriu.images``; ``libcriu.pycriu.images`` uses this only when
that is not installed.
"""

import collections
import io
import struct
from typing import Any, BinaryIO, Dict, List

from google.protobuf.descriptor import FieldDescriptor as FD

from . import _libcriu
from ._protobuf import schema

_pb = schema(_libcriu.images_descriptor_set(), "pycriu_images.proto")

# The magics at the head of an image file (CRIU's criu/include/magic.h):
# an optional "first" magic saying which kind of image follows, then the
# image's own.
_FIRST = {0x54564319: "IMG_COMMON", 0x55105940: "IMG_SERVICE"}
_BY_MAGIC = {
    0x58313116: ("INVENTORY", _pb["inventory_entry"]),
    0x57093306: ("STATS", _pb["stats_entry"]),
}

__all__ = ["MagicException", "load", "loads"]


class MagicException(Exception):
    """The file starts with a magic this module does not read."""

    def __init__(self, magic: int) -> None:
        self.magic = magic


def _value(field: Any, value: Any, pretty: bool) -> Any:
    if field.type == FD.TYPE_MESSAGE:
        return _to_dict(value, pretty)
    if field.type == FD.TYPE_ENUM:
        return field.enum_type.values_by_number[value].name
    return value


def _to_dict(message: Any, pretty: bool) -> Dict[str, Any]:
    """A message as pycriu renders it: the fields that are set, by name,
    enums by their names, nested messages as dicts."""
    out: Dict[str, Any] = collections.OrderedDict() if pretty else {}
    for field, value in message.ListFields():
        if _is_repeated(field):
            out[field.name] = [_value(field, v, pretty) for v in value]
        else:
            out[field.name] = _value(field, value, pretty)
    return out


def _is_repeated(field: Any) -> bool:
    # protobuf 6.31 added is_repeated and later releases dropped label.
    repeated = getattr(field, "is_repeated", None)
    if repeated is None:
        return field.label == FD.LABEL_REPEATED
    return bool(repeated)


def load(f: BinaryIO, pretty: bool = False, no_payload: bool = False) -> Dict[str, Any]:
    """Read an image from the binary file ``f`` into pycriu's dict form."""
    (magic,) = struct.unpack("I", f.read(4))
    if magic in _FIRST:
        (magic,) = struct.unpack("I", f.read(4))
    if magic not in _BY_MAGIC:
        raise MagicException(magic)
    name, message = _BY_MAGIC[magic]
    entries: List[Dict[str, Any]] = []
    while True:
        head = f.read(4)
        if not head:
            break
        (size,) = struct.unpack("i", head)
        entries.append(_to_dict(message.FromString(f.read(size)), pretty))
    return {"magic": name, "entries": entries}


def loads(s: bytes, pretty: bool = False) -> Dict[str, Any]:
    """Same as load(), from bytes."""
    return load(io.BytesIO(s), pretty)
