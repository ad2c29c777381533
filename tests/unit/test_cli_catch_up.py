"""A stored command's exit status is its own: a read-model catch-up that fails after it is a
warning, not the command's failure (issue 21, item 6)."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest

from commands import cli


def test_a_failing_catch_up_after_a_stored_command_is_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def fail() -> None:
        raise RuntimeError("read model 'vouchers' cannot apply position 42")

    err = io.StringIO()
    monkeypatch.setattr(cli.sys, "stderr", err)
    ledger: Any = SimpleNamespace(runner=SimpleNamespace(catch_up=fail))
    assert cli._catch_up_after(ledger) is False
    assert "the command is stored" in err.getvalue()
    assert "position 42" in err.getvalue()
    ok: Any = SimpleNamespace(runner=SimpleNamespace(catch_up=lambda: None))
    assert cli._catch_up_after(ok) is True
