"""libcriu.images (pycriu's images API), libcriu.crit and the statistics,
on the images of a real dump. (The byte-for-byte comparison with upstream
pycriu is tests/images/run at the top of the repository.)"""

import io
import json
import os
import re
import sys
from pathlib import Path

import pytest

import libcriu
from libcriu import crit, images
from helpers import COUNTER, CRIU_BIN, lines, reap_dumped, start, wait_until


def dump_counter(tmp: Path, criu_bin: str) -> Path:
    """A dump of the counter in TMP/images by the criu binary CRIU_BIN."""
    log = tmp / "counter.log"
    dump_dir = tmp / "images"
    dump_dir.mkdir()
    victims: list = []
    proc = start(victims, COUNTER, str(log))
    wait_until("the counter to start", lambda: len(lines(log)) >= 3)
    libcriu.Options(service_binary=criu_bin, log_level=libcriu.LogLevel.DEBUG, pid=proc.pid,
                    images_dir=dump_dir, log_file="dump.log").dump()
    reap_dumped(proc)
    return dump_dir


@pytest.fixture(scope="module")
def dumped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dump_counter(tmp_path_factory.mktemp("images"), CRIU_BIN)


def test_every_image_round_trips(dumped: Path) -> None:
    decoded = 0
    for path in sorted(dumped.glob("*.img")):
        data = path.read_bytes()
        if path.name.startswith("pages-"):
            with pytest.raises(images.MagicException) as exc:
                images.loads(data)
            assert exc.value.magic == int.from_bytes(data[:4], sys.byteorder, signed=True)
            continue
        for pretty in (False, True):
            img = images.loads(data, pretty=pretty)
            assert images.dumps(img) == data, path.name
            # What JSON carries is enough to rebuild it.
            assert images.dumps(json.loads(json.dumps(img))) == data, path.name
        decoded += 1
    assert decoded >= 8


def test_dicts_follow_pycriu(dumped: Path) -> None:
    with open(dumped / "inventory.img", "rb") as f:
        inv = images.load(f)
    assert inv["magic"] == "INVENTORY"
    assert inv["entries"][0]["img_version"] == 2
    pstree = images.load(open(dumped / "pstree.img", "rb"))["entries"]
    pid = pstree[0]["pid"]
    core = images.load(open(dumped / f"core-{pid}.img", "rb"), pretty=True)["entries"][0]
    assert core["mtype"] == "X86_64"
    assert core["tc"]["task_state"] == "Alive"  # a (criu).dict name
    mm = images.load(open(dumped / f"mm-{pid}.img", "rb"), pretty=True)["entries"][0]
    vma = mm["vmas"][0]
    assert vma["start"].startswith("0x") and "PROT_READ" in vma["prot"]
    with open(dumped / "inventory.img", "rb") as f:
        assert images.info(f) == {"magic": "INVENTORY", "count": 1}
    out = io.BytesIO()
    images.dump(inv, out)
    assert out.getvalue() == (dumped / "inventory.img").read_bytes()
    with pytest.raises(ValueError):
        images.loads((dumped / "inventory.img").read_bytes()[:-3])


def test_stats(dumped: Path) -> None:
    dump, restore = images.stats(dumped)
    assert restore is None
    assert dump["pages_written"] > 0 and dump["frozen_time"] > 0
    assert dump["pages_scanned"] >= dump["pages_written"]
    assert images.stats(dumped / "no-such-dir") == (None, None)


def test_crit_commands(dumped: Path, capsys: pytest.CaptureFixture) -> None:
    pid = images.loads((dumped / "pstree.img").read_bytes())["entries"][0]["pid"]
    crit.main(["x", str(dumped), "ps"])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["PID", "PGID", "SID", "COMM"]
    assert out[1].split()[0] == str(pid) and out[1].split()[-1].startswith("python")
    crit.main(["show", str(dumped / f"mm-{pid}.img")])
    shown = json.loads(capsys.readouterr().out)
    assert shown["magic"] == "MM"
    crit.main(["info", str(dumped / f"mm-{pid}.img")])
    assert json.loads(capsys.readouterr().out) == {"magic": "MM", "count": 1}
    with pytest.raises(SystemExit):
        crit.main(["show", str(dumped / "pages-1.img")])
    assert "Unknown magic" in capsys.readouterr().err


def test_crit_is_the_binarys_command_line(dumped: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Usage errors: crit's texts and exit code 2, as the criu-image binary gives them.
    with pytest.raises(SystemExit) as exited:
        crit.main([])
    assert exited.value.code == 2
    assert capsys.readouterr().err == ("usage: criu-image [-h] [--version] {decode,encode,info,x,show} ...\n"
                                       "criu-image: error: too few arguments\n")
    with pytest.raises(SystemExit) as exited:
        crit.main(["x", str(dumped), "nothing"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.endswith("criu-image: error: argument what: invalid choice: 'nothing' "
                                            "(choose from 'ps', 'fds', 'mems', 'rss')\n")
    crit.main(["--help"])
    assert "decode [--pretty] [-i IN] [-o OUT]" in capsys.readouterr().out

    # decode from stdin, encode from a file back to the image's bytes.
    image = dumped / "pstree.img"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(image.read_bytes())))
    crit.main(["decode"])
    decoded = capsys.readouterr().out
    assert json.loads(decoded) == images.loads(image.read_bytes())
    (tmp_path / "pstree.json").write_text(decoded)
    crit.main(["encode", "-i", str(tmp_path / "pstree.json"), "-o", str(tmp_path / "pstree.img")])
    assert (tmp_path / "pstree.img").read_bytes() == image.read_bytes()

    # An image file is read through the core's container reader: no link followed.
    (tmp_path / "link.img").symlink_to(image)
    with pytest.raises(SystemExit) as exited:
        crit.main(["show", str(tmp_path / "link.img")])
    assert exited.value.code == 1
    assert capsys.readouterr().err == "criu-image: %s: a symbolic link, not followed\n" % (tmp_path / "link.img")


@pytest.fixture(scope="module")
def old_dumped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dump written by the older criu (CRIU_OLD_BIN, 4.1.1), whose
    pagemap entries carry only compat_nr_pages."""
    old_criu = os.environ.get("CRIU_OLD_BIN")
    if not old_criu:
        pytest.skip("CRIU_OLD_BIN names no older criu")
    return dump_counter(tmp_path_factory.mktemp("old-images"), old_criu)


def test_rss_of_an_old_dump(old_dumped: Path, capsys: pytest.CaptureFixture) -> None:
    # Every page run's length, read as criu reads it (crit 4.2.1 asks for
    # nr_pages alone and raises KeyError here).
    expected = []
    for task in images.loads((old_dumped / "pstree.img").read_bytes())["entries"]:
        pid = task["pid"]
        runs = images.loads((old_dumped / f"pagemap-{pid}.img").read_bytes())["entries"][1:]
        assert runs and all("nr_pages" not in pm for pm in runs)
        expected += [str(pid)] + [f"{pm['vaddr']:x} {pm['compat_nr_pages']}" for pm in runs]
    crit.main(["x", str(old_dumped), "rss"])
    out = capsys.readouterr().out.splitlines()
    # A task's pid, then a line per run: "\tVADDR / PAGES" and its areas
    # (an area's further lines start with spaces).
    shown = []
    for line in out:
        run = re.match(r"\t([0-9a-f]+) / (\d+)(?: |$)", line)
        if run:
            shown.append(f"{run[1]} {run[2]}")
        elif re.fullmatch(r"\d+", line):
            shown.append(line)
    assert shown == expected
