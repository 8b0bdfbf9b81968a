"""``criu-image``: CRIU's ``crit`` (decode, encode, show, info, x).

The command line lives once, in the Rust core (``criu::images::cli``), and
this entry point runs it as the ``criu-image`` binary does: the same
arguments, output, error texts and exit codes, over Python's
``sys.stdin``, ``sys.stdout`` and ``sys.stderr``."""
import os
import sys
from typing import Any, Callable, Optional, Sequence

from . import _libcriu

__all__ = ["main"]


def _writer(stream: Any) -> Callable[[bytes], Any]:
    """``write(bytes)`` into a text stream: into its binary buffer when it
    has one (after what was already written as text), else as UTF-8."""
    buffer = getattr(stream, "buffer", None)
    if buffer is None:
        return lambda data: stream.write(data.decode("utf-8", "surrogateescape"))

    def write(data: bytes) -> None:
        stream.flush()
        buffer.write(data)

    return write


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Runs crit with ``argv`` (``sys.argv[1:]`` by default); a failure
    raises SystemExit with crit's exit code (1, or 2 for a usage error)."""
    args = sys.argv[1:] if argv is None else list(argv)
    code = _libcriu.crit_run([os.fsdecode(a) for a in args], lambda n: sys.stdin.buffer.read(n),
                             _writer(sys.stdout), _writer(sys.stderr))
    sys.stdout.flush()
    sys.stderr.flush()
    if code:
        raise SystemExit(code)


if __name__ == "__main__":
    main()
