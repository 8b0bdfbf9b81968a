"""criu's RPC messages as protobuf classes, for ``libcriu.pycriu``.

The schema is the one the native module is built from (proto/rpc.proto),
handed over as a serialized FileDescriptorSet, so there is no generated
``_pb2`` file to keep in step with it. The classes live in a private
descriptor pool: upstream pycriu's ``rpc_pb2`` registers a file of the same
name in protobuf's default pool, and both may be loaded in one process.

Needs the ``protobuf`` package (``pip install libcriu[pycriu]``).
"""

from typing import Any, Dict

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from . import _libcriu


def _message_class(pool: Any, descriptor: Any) -> Any:
    # GetMessageClass arrived with protobuf 4.22; older releases (Debian
    # 12 ships 3.21) have only the factory.
    get = getattr(message_factory, "GetMessageClass", None)
    if get is not None:
        return get(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def _build() -> Dict[str, Any]:
    """What upstream's generated rpc_pb2 module holds: DESCRIPTOR, one class
    per message, one wrapper per enum, and every enum value as a constant."""
    files = descriptor_pb2.FileDescriptorSet.FromString(_libcriu.rpc_descriptor_set())
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        pool.Add(proto)
    file = pool.FindFileByName("rpc.proto")
    names: Dict[str, Any] = {"DESCRIPTOR": file}
    for name, descriptor in file.message_types_by_name.items():
        names[name] = _message_class(pool, descriptor)
    for name, descriptor in file.enum_types_by_name.items():
        names[name] = EnumTypeWrapper(descriptor)
        for value in descriptor.values:
            names[value.name] = value.number
    return names


_names = _build()
globals().update(_names)
__all__ = sorted(_names)
