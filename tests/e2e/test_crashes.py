"""SIGKILL in the middle of a batch or a rebuild: whole commands only, read models resume
exactly once, and `run --resume` applies every line exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from commands.demo import generate_year
from commands.wiring import open_ledger

CLI = str(Path(sys.executable).with_name("voucher-ledger"))


def _topics(db: str) -> Counter[str]:
    ledger = open_ledger(db, read_only=True)
    try:
        counts: Counter[str] = Counter()
        start = 0
        while page := ledger.app.recorder.select_notifications(
            start=start, limit=5000, inclusive_of_start=False
        ):
            counts.update(n.topic.rsplit(":", 1)[1] for n in page)
            start = page[-1].id
        return counts
    finally:
        ledger.close()


def _events(db: str) -> int:
    try:
        ledger = open_ledger(db, read_only=True)
    except Exception:
        return 0
    try:
        return int(ledger.app.recorder.max_notification_id() or 0)
    except Exception:
        return 0
    finally:
        ledger.close()


def _kill_when(process: subprocess.Popen[str], ready: object, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError("the process finished before it could be killed")
        if ready():  # type: ignore[operator]
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return
        time.sleep(0.05)
    raise AssertionError("no progress to interrupt")


def test_a_killed_batch_leaves_whole_commands_and_resumes_exactly_once(
    db_url: str, tmp_path: Path
) -> None:
    batch = tmp_path / "year.jsonl"
    batch.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in generate_year()[:1500]),
        encoding="utf-8",
    )
    reference = str(tmp_path / "reference.db")
    full = subprocess.run(
        [CLI, "--db", reference, "run", str(batch)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert full.returncode == 1  # the year has rule rejections
    victim = subprocess.Popen(
        [CLI, "--db", db_url, "run", str(batch)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _kill_when(victim, lambda: _events(db_url) > 600)
    killed = _topics(db_url)
    # Whole commands only: each voucher issued with its quota place and its holder's note.
    assert killed["Programme.VoucherAllotted"] == killed["Voucher.Issued"]
    assert killed["Voucher.Issued"] == killed["EntityRecord.VoucherReceived"]
    assert killed["Voucher.Redeemed"] == killed["Redemption.Recorded"]
    assert 0 < sum(killed.values()) < sum(_topics(reference).values())
    resumed = subprocess.run(
        [CLI, "--db", db_url, "run", "--resume", str(batch)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert resumed.returncode == 1, resumed.stderr
    assert "lines were applied already" in resumed.stderr
    finals = _topics(db_url)
    assert finals == _topics(reference)  # every line applied exactly once
    check = subprocess.run(
        [CLI, "--db", db_url, "audit", "rebuild", "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert check.returncode == 0, check.stdout


def test_a_killed_rebuild_resumes_to_the_same_read_models(db_url: str, tmp_path: Path) -> None:
    batch = tmp_path / "year.jsonl"
    batch.write_text(
        "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in generate_year()[:1200]),
        encoding="utf-8",
    )
    subprocess.run(
        [CLI, "--db", db_url, "run", str(batch)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    env = {**os.environ, "VOUCHER_LEDGER_PAGE_SIZE": "25"}
    ledger = open_ledger(db_url)
    before = ledger.store.dump()
    ledger.close()
    victim = subprocess.Popen(
        [CLI, "--db", db_url, "rebuild"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def halfway() -> bool:
        ledger = open_ledger(db_url, read_only=True)
        try:
            positions = ledger.store.positions().values()
            return 200 < min(positions, default=0) < _events(db_url) - 200
        except Exception:
            return False
        finally:
            ledger.close()

    _kill_when(victim, halfway)
    # Killed half-way: the read models stand consistently at some position ...
    assert (
        subprocess.run(
            [CLI, "--db", db_url, "audit", "rebuild", "--check"],
            capture_output=True,
            timeout=300,
            check=False,
        ).returncode
        == 0
    )
    # ... and catching up applies the rest exactly once.
    ledger = open_ledger(db_url)
    try:
        ledger.runner.catch_up()
        assert ledger.store.dump() == before
    finally:
        ledger.close()
