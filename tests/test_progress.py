"""Progress a person can watch: on a real pseudo-terminal, the load, the pull (per endpoint) and the
jobs show live lines with a rate, and the totals shown are the records written."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from conftest import ROOT
from fake_akeneo import FakeAkeneo
from transformer.report import Progress

TOOL = Path(sys.executable).with_name("akeneo-sfcc")
LINE = re.compile(r"\r([^\r\n]*?)\x1b\[K")  # what a terminal shows: a line rewritten in place


def on_terminal(*argv: object, env: dict | None = None, timeout: float = 120) -> tuple[int, str]:
    """Run the tool with stdout and stderr on a pseudo-terminal; (exit code, everything it showed)."""
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 240, 0, 0))  # 240 columns
    env = {k: v for k, v in (env or os.environ).items() if k not in ("COLUMNS", "LINES")}  # the window's size
    process = subprocess.Popen([str(TOOL), *map(str, argv)], cwd=ROOT, env=env, stdin=child, stdout=child,
                               stderr=child, start_new_session=True)
    os.close(child)
    shown, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([main], [], [], 0.1)[0]:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the tool closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    os.close(main)
    return process.wait(timeout=10), shown.decode(errors="replace")


def progress_lines(shown: str, label: str) -> list[str]:
    return [line for line in LINE.findall(shown) if line.startswith(f"{label}: ")]


def test_a_progress_line_tallies_parts_and_marks_an_estimate() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress("pull", 2000, screen, unit="items", estimated=True)
    progress.shown -= 1  # as if the last line was a second ago
    progress.advance(1200, "products")
    progress.shown -= 1
    progress.advance(100, "product-models")
    progress.close()
    lines = LINE.findall(screen.getvalue())
    assert lines[0].startswith("pull: 1,200/~2,000 items (") and " s left)" in lines[0]
    assert lines[1].startswith("pull: 1,300/~2,000 items [products 1,200, product-models 100] (")
    assert screen.getvalue().endswith("\r\x1b[K")  # the line is cleared for what comes next
    unknown = Terminal()
    progress = Progress("load snap", unit="items", stream=unknown)
    progress.shown -= 1
    progress.advance(50, "products")
    assert LINE.findall(unknown.getvalue())[0].startswith("load snap: 50 items (") and "left" not in unknown.getvalue()


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("progress") / "snap"
    subprocess.run([TOOL, "synth", "--products", "6000", "--out", folder], check=True, capture_output=True)
    return folder


def test_a_terminal_sees_the_load_the_pull_and_the_jobs_move(snapshot: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    code, shown = on_terminal("load", snapshot, "--store", store)
    assert code == 0, shown
    lines = progress_lines(shown, f"load {snapshot.name}")
    assert lines and re.match(r"load snap: [\d,]+ items \[.*products [\d,]+.*\] \([\d,]+/s\)", lines[-1]), shown

    with FakeAkeneo(snapshot, page_latency=0.02) as pim:
        env = os.environ | {"AKENEO_URL": pim.url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": "s3cret",
                            "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": "pass"}
        code, shown = on_terminal("pull", "full-import-master", "--store", store, env=env)
    assert code == 0, shown
    lines = progress_lines(shown, "pull")
    # The store held the snapshot: the total is what it held, marked as an estimate, per endpoint.
    assert lines and re.match(r"pull: [\d,]+/~[\d,]+ items \[.*products [\d,]+.*\] \(", lines[-1]), shown
    read = [int(line.split()[1].split("/")[0].replace(",", "")) for line in lines]
    assert read == sorted(read) and read[-1] > 6000 * 0.5, lines  # it moves, and most of the products show

    out = tmp_path / "out"
    code, shown = on_terminal("run", "full-import-master", "--offline", "--store", store, "--out", out,
                              "--workers", "2")
    assert code == 0, shown
    lines = progress_lines(shown, "full-import-master")
    assert lines, shown
    done, total = map(lambda n: int(n.replace(",", "")),
                      re.match(r"full-import-master: ([\d,]+)/([\d,]+) records", lines[-1]).groups())
    counts = json.loads((out / "latest" / "reports" / "full-import-master.json").read_text())["counts"]
    # Every row the total counted ends as one of these: the total is what the job went through.
    assert total == sum(n for kind, n in counts.items() if kind != "binaries") and done <= total, (lines[-1], counts)


def test_quiet_shows_no_progress(snapshot: Path, tmp_path: Path) -> None:
    code, shown = on_terminal("run", "full-import-master", "--snapshot", snapshot, "--out", tmp_path / "out",
                              "--quiet")
    assert code == 0 and "records (" not in shown and "items (" not in shown, shown
