"""The docs tell the truth: generated references match the code, every code is documented."""

from __future__ import annotations

from pathlib import Path

from commands.docgen import DOCS, GENERATED
from ledger.errors import ALL_CODES

ROOT = Path(__file__).resolve().parents[2]


def test_generated_references_are_current() -> None:
    for name, make in GENERATED.items():
        assert (DOCS / name).read_text(encoding="utf-8") == make(), (
            f"docs/{name} is stale: run `python -m commands.docgen`"
        )


def test_every_error_code_is_documented() -> None:
    text = (DOCS / "errors.md").read_text(encoding="utf-8")
    for code in ALL_CODES:
        assert f"`{code}`" in text


def test_readme_shows_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
