"""The records the module returns: frozen classes with named fields that
still behave as the tuples (NamedTuples) they replaced."""

import copy
import pickle

import pytest

import libcriu


def tmp_file() -> libcriu.TmpFile:
    return libcriu.TmpFile("/srv/a", "symlink", 0o120777, 0, 0, 6, 0, False, "target", ["user.x"])


def test_fields_are_named_and_read_only() -> None:
    record = tmp_file()
    assert (record.path, record.kind, record.link_target, record.xattrs) == ("/srv/a", "symlink", "target", ["user.x"])
    with pytest.raises(AttributeError):
        record.path = "/elsewhere"  # type: ignore[misc]
    assert libcriu.TmpFile._fields[0] == "path" and len(libcriu.TmpFile._fields) == 10
    assert record._asdict()["mode"] == 0o120777


def test_records_behave_as_their_tuples() -> None:
    record = tmp_file()
    as_tuple = ("/srv/a", "symlink", 0o120777, 0, 0, 6, 0, False, "target", ["user.x"])
    assert tuple(record) == as_tuple and record == as_tuple and len(record) == 10
    assert record[0] == "/srv/a" and record[-1] == ["user.x"] and record[1:3] == ("symlink", 0o120777)
    path, kind, *_ = record
    assert (path, kind) == ("/srv/a", "symlink")
    assert record == tmp_file() and record != libcriu.TmpFile("/srv/b", *as_tuple[1:])
    assert repr(record).startswith("TmpFile(path='/srv/a', kind='symlink'")

    server = libcriu.PageServer(4242, 27000)
    pid, port = server
    assert (pid, port) == (4242, 27000) and server == (4242, 27000)
    assert hash(server) == hash((4242, 27000)) and {server: 1}[libcriu.PageServer(4242, 27000)] == 1
    external = libcriu.ExternalResource("pipe", "pipe:[7]", 1, 0, "its other end is outside")
    assert external.key == "pipe:[7]" and external[1] == "pipe:[7]"


def test_records_copy_and_pickle() -> None:
    for record in (tmp_file(), libcriu.PageServer(1, 2), libcriu.ExternalResource("tty", "tty[1:2]", 3, 4, "x")):
        assert pickle.loads(pickle.dumps(record)) == record
        assert copy.copy(record) == record and type(copy.deepcopy(record)) is type(record)
