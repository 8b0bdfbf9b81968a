"""criu's RPC messages as protobuf classes, for ``libcriu.pycriu``: the
schema the native module is built from (crates/criu/proto/rpc.proto), with what
upstream's generated ``rpc_pb2`` holds (classes, enum wrappers, constants).
"""

from . import _libcriu
from ._protobuf import schema

_names = schema(_libcriu.rpc_descriptor_set(), "rpc.proto")
globals().update(_names)
__all__ = sorted(_names)
