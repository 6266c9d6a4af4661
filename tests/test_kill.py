"""`kill -9`, Ctrl-C or SIGTERM at any point of a chain, then the same command again: the archive is
byte for byte an uninterrupted run's, and nothing of the stopped process is left (temporary files,
its outputs and archive, scratch folders, a run marked `running`). Real processes, real signals."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from contextlib import closing, suppress
from pathlib import Path

import pytest

from conftest import ROOT, archive_of
from fake_akeneo import FakeAkeneo

TOOL = Path(sys.executable).with_name("akeneo-sfcc")


def start(*argv: object, env: dict | None = None) -> subprocess.Popen:
    # SIGINT as a terminal has it: a job started in the background of a script inherits it ignored.
    return subprocess.Popen([str(TOOL), *map(str, argv)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def members(out: Path) -> dict[str, bytes]:
    """The archive's files below its top folder (named after the run id), as bytes."""
    with zipfile.ZipFile(archive_of(out)) as archive:
        return {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()}


def began(store: Path, process: subprocess.Popen) -> None:
    """Wait until the run is in the store's runs (stops while the tool starts are tested apart), so
    that each kill counts as one interrupted run."""
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with suppress(sqlite3.Error), closing(sqlite3.connect(f"file:{store}?mode=ro", uri=True)) as db:
            if db.execute("SELECT 1 FROM runs WHERE status = 'running'").fetchone():
                return
        time.sleep(0.02)


def killed_at(process: subprocess.Popen, seconds: float, signum: int = signal.SIGKILL) -> bool:
    """Send `signum` to the whole process group after `seconds` (as a terminal's Ctrl-C does, or a
    container runtime); False when it had finished before."""
    try:
        process.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signum)
        sent = time.monotonic()
        stderr = process.communicate(timeout=30)[1]
        code, took = process.returncode, time.monotonic() - sent
        # Stopped as documented; or it was committing its last bytes (0) when the signal came.
        assert code in ({signal.SIGINT: 130, signal.SIGTERM: 143}.get(signum, -signal.SIGKILL), 0), code
        if signum != signal.SIGKILL and code:  # one line, at once: no traceback of any process or thread
            assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
            assert stderr.strip().splitlines()[-1].startswith("interrupted ("), stderr
            assert took < 5, f"{took:.1f} s to stop"
        return code != 0


def assert_no_debris(out: Path, store: Path, pid: int) -> None:
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")], "temporary files left"
    assert not list(Path(f"{store}.media").rglob(".*.part")), "half-downloaded files left"
    assert not list(Path(tempfile.gettempdir()).glob(f"akeneo-sfcc-{pid}-*")), "scratch folder left"
    with sqlite3.connect(store) as db:
        assert not db.execute("SELECT id FROM runs WHERE status = 'running'").fetchall()
        killed = [run for (run,) in db.execute("SELECT id FROM runs WHERE status = 'interrupted'")]
    for run in killed:  # their folders keep their reports, not their outputs (never committed)
        assert not (out / run / "site-import").exists() and not (out / run / f"{run}.zip").exists()


@pytest.fixture(scope="module")
def store_and_reference(tmp_path_factory) -> tuple[Path, dict[str, bytes], float]:
    """A 6,000-product store (the master job starts its worker pool), the archive of an
    uninterrupted `run full` of it, and how long that took."""
    folder = tmp_path_factory.mktemp("kill")
    subprocess.run([TOOL, "synth", "--products", "6000", "--out", folder / "snap"], check=True, capture_output=True)
    subprocess.run([TOOL, "load", folder / "snap", "--store", folder / "store.sqlite"], cwd=ROOT, check=True,
                   capture_output=True)
    reference = folder / "reference"
    shutil.copytree(folder, reference, ignore=shutil.ignore_patterns("snap", "reference"))
    began = time.monotonic()
    done = subprocess.run([TOOL, "run", "full", "--offline", "--store", reference / "store.sqlite", "--out",
                           reference / "out", "--workers", "2"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return folder / "store.sqlite", members(reference / "out"), time.monotonic() - began


@pytest.mark.parametrize("signum, seed", [(signal.SIGKILL, 1), (signal.SIGKILL, 2), (signal.SIGINT, 3),
                                          (signal.SIGTERM, 4)], ids=["kill-9", "kill-9-again", "ctrl-c", "sigterm"])
def test_stopped_anywhere_in_a_chain_then_the_same_archive(store_and_reference, tmp_path: Path, signum: int,
                                                           seed: int) -> None:
    original, reference, took = store_and_reference
    store = tmp_path / "store.sqlite"
    shutil.copy(original, store)
    shutil.copytree(f"{original}.media", f"{store}.media", dirs_exist_ok=True) if Path(f"{original}.media").is_dir() else None
    out = tmp_path / "out"
    kills, pids = 0, []
    rng = random.Random(seed)
    for _ in range(2):  # twice in a row, at random points of the chain (once it has begun: see below)
        process = start("run", "full", "--offline", "--store", store, "--out", out, "--workers", "2")
        pids.append(process.pid)
        began(store, process)
        kills += killed_at(process, rng.uniform(0.05, 0.45) * took, signum)
    assert kills, "the run finished before it could be killed: the store is too small for this machine"
    done = subprocess.run([TOOL, "run", "full", "--offline", "--store", store, "--out", out, "--workers", "2"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert members(out) == reference
    for pid in pids:
        assert_no_debris(out, store, pid)
    with sqlite3.connect(store) as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM runs ORDER BY started")]
    assert statuses.count("interrupted") == kills and statuses[-1] == "committed", statuses


def _seconds_to(*argv: str) -> float:
    began = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True)
    return time.monotonic() - began


@pytest.mark.parametrize("share", [0.3, 0.6, 0.9])
def test_ctrl_c_while_the_tool_is_still_starting_ends_with_one_line(tmp_path: Path, share: float) -> None:
    """While Python imports the tool (after the interpreter's own start, which is Python's to handle)."""
    interpreter, tool = _seconds_to(sys.executable, "-c", "pass"), _seconds_to(str(TOOL), "--version")
    process = start("run", "full", "--demo", "--out", tmp_path / "out")
    time.sleep(max(2 * interpreter, share * tool))
    os.killpg(process.pid, signal.SIGINT)
    stderr = process.communicate(timeout=30)[1]
    assert process.returncode == 130, stderr
    assert stderr.strip().startswith("interrupted (") and "Traceback" not in stderr, stderr


def test_kill_9_mid_pull_then_the_same_archive(tmp_path: Path) -> None:
    from transformer.cli import demo_snapshot

    env = None
    with FakeAkeneo(demo_snapshot()) as direct:
        env = os.environ | {"AKENEO_URL": direct.url, "AKENEO_CLIENT_ID": "client", "AKENEO_SECRET": "s3cret",
                            "AKENEO_USERNAME": "user", "AKENEO_PASSWORD": "pass"}
        done = subprocess.run([TOOL, "run", "full", "--store", tmp_path / "ref.sqlite", "--out", tmp_path / "ref"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    reference = members(tmp_path / "ref")
    with FakeAkeneo(demo_snapshot(), page_latency=0.1) as slow:  # pages come slowly: the kill lands mid-pull
        env["AKENEO_URL"] = slow.url
        store, out = tmp_path / "store.sqlite", tmp_path / "out"
        process = start("run", "full", "--store", store, "--out", out, env=env)
        deadline = time.monotonic() + 60
        while len(slow.requests) < 12 and time.monotonic() < deadline:  # some pages stored, others not yet
            time.sleep(0.01)
        assert killed_at(process, 0.0)
        done = subprocess.run([TOOL, "run", "full", "--store", store, "--out", out], cwd=ROOT, env=env,
                              capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert members(out) == reference
    assert_no_debris(out, store, process.pid)
