"""``criu-image``: CRIU's ``crit`` over the libcriu-rs core; the same
commands, arguments and output (decode, encode, show, info, x)."""
import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

from . import _libcriu, images


def _read(path: Optional[str]) -> bytes:
    if path:
        with open(path, "rb") as f:
            return f.read()
    return sys.stdin.buffer.read()


def _decode(opts: Dict[str, Any]) -> None:
    try:
        text = _libcriu.images_json(_read(opts["in"]), opts["pretty"], opts["nopl"])
    except images.MagicException as exc:
        print("Unknown magic %#x.\nMaybe you are feeding me an image with "
              "raw data(i.e. pages.img)?" % exc.magic, file=sys.stderr)
        sys.exit(1)
    if opts["out"]:
        with open(opts["out"], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text + "\n")


def _encode(opts: Dict[str, Any]) -> None:
    img = json.loads(_read(opts["in"]))
    data = images.dumps(img)
    if opts["out"]:
        with open(opts["out"], "wb") as f:
            f.write(data)
    else:
        sys.stdout.buffer.write(data)


def _info(opts: Dict[str, Any]) -> None:
    with open(opts["in"], "rb") as f:
        print(json.dumps(images.info(f), indent=4))


def _explore(opts: Dict[str, Any]) -> None:
    sys.stdout.write(_libcriu.images_explore(os.fspath(opts["dir"]), opts["what"]))


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description="CRiu Image Tool", formatter_class=argparse.RawTextHelpFormatter)
    sub = parser.add_subparsers(help="Use crit CMD --help for command-specific help")
    p = sub.add_parser("decode", help="convert criu image from binary type to json")
    p.add_argument("--pretty", action="store_true",
                   help="Multiline with indents and some numerical fields in field-specific format")
    p.add_argument("-i", "--in", help="criu image in binary format to be decoded (stdin by default)")
    p.add_argument("-o", "--out", help="where to put criu image in json format (stdout by default)")
    p.set_defaults(func=_decode, nopl=False)
    p = sub.add_parser("encode", help="convert criu image from json type to binary")
    p.add_argument("-i", "--in", help="criu image in json format to be encoded (stdin by default)")
    p.add_argument("-o", "--out", help="where to put criu image in binary format (stdout by default)")
    p.set_defaults(func=_encode)
    p = sub.add_parser("info", help="show info about image")
    p.add_argument("in")
    p.set_defaults(func=_info)
    p = sub.add_parser("x", help="explore image dir")
    p.add_argument("dir")
    p.add_argument("what", choices=["ps", "fds", "mems", "rss"])
    p.set_defaults(func=_explore)
    p = sub.add_parser("show", help="convert criu image from binary to human-readable json")
    p.add_argument("in")
    p.add_argument("--nopl", help="do not show entry payload (if exists)", action="store_true")
    p.set_defaults(func=_decode, pretty=True, out=None)
    opts = vars(parser.parse_args(argv))
    if "func" not in opts:
        sys.stderr.write(parser.format_usage())
        sys.stderr.write("crit: error: too few arguments\n")
        sys.exit(1)
    try:
        opts["func"](opts)
    except ValueError as exc:
        print("criu-image: %s" % exc, file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
