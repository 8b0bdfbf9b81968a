"""Protobuf message classes built at run time from a serialized
FileDescriptorSet that the native module carries (so there are no generated
``_pb2`` files to keep in step with the schemas). Needs the ``protobuf``
package (``pip install libcriu[pycriu]``)."""

from typing import Any, Dict

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper


def _message_class(pool: Any, descriptor: Any) -> Any:
    # GetMessageClass arrived with protobuf 4.22; older releases (Debian
    # 12 ships 3.21) have only the factory.
    get = getattr(message_factory, "GetMessageClass", None)
    if get is not None:
        return get(descriptor)
    return message_factory.MessageFactory(pool).GetPrototype(descriptor)


def schema(descriptor_set: bytes, file_name: str) -> Dict[str, Any]:
    """What protoc's generated module for ``file_name`` holds: DESCRIPTOR,
    one class per message, one wrapper per enum, every enum value as a
    constant. The classes live in a private descriptor pool, so a generated
    module registering a file of the same name (upstream pycriu's) can be
    loaded in the same process."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    pool = descriptor_pool.DescriptorPool()
    for proto in files.file:
        pool.Add(proto)
    file = pool.FindFileByName(file_name)
    names: Dict[str, Any] = {"DESCRIPTOR": file}
    for name, descriptor in file.message_types_by_name.items():
        names[name] = _message_class(pool, descriptor)
    for name, descriptor in file.enum_types_by_name.items():
        names[name] = EnumTypeWrapper(descriptor)
        for value in descriptor.values:
            names[value.name] = value.number
    return names
