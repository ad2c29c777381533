"""CSV formula injection (issue 21, item 8): every CSV the ledger writes — reports with
``--format csv`` and the audit pack's tables — shows a cell a spreadsheet would take for a formula
as text (OWASP: prefixed with ``'``), while the ledger's own numbers stay numbers."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from commands.cli import main
from commands.render import csv_cell, csv_rows, render
from ledger.ids import make_credit_code
from projections.reports import Report

HYPERLINK = '=HYPERLINK("http://x","y")'
SUM = "@SUM(1)"
APPLICANTS = {
    make_credit_code("91510100MA6000001"): HYPERLINK,
    make_credit_code("91510100MA6000002"): SUM,
}
AT = "2025-03-01T09:00:00+08:00"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("=1+2", "'=1+2"),
        ("+1+2", "'+1+2"),
        ("-1+2", "'-1+2"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        (HYPERLINK, "'" + HYPERLINK),
        ("-", "'-"),
        ("--5", "'--5"),
        ("-1e3", "'-1e3"),
        # The ledger's numbers cannot be formulas: they stay numbers for the spreadsheet.
        (Decimal("-1200.00"), "-1200.00"),
        (Decimal("1200.00"), "1200.00"),
        ("-1200.00", "-1200.00"),
        ("-42", "-42"),
        (-42, -42),
        (7, 7),
        # Plain text, dates and empty cells are left alone.
        ("成都示例科技", "成都示例科技"),
        ("a=b", "a=b"),
        ("2025-03-01", "2025-03-01"),
        (None, None),
        ("", ""),
    ],
)
def test_a_cell_that_could_start_a_formula_is_quoted_and_numbers_are_not(
    value: object, shown: object
) -> None:
    assert csv_cell(value) == shown


def test_the_header_row_is_made_safe_too() -> None:
    text = csv_rows(["=cmd", "name"], [["+x", Decimal("-5.00")]])
    assert list(csv.reader(io.StringIO(text))) == [["'=cmd", "name"], ["'+x", "-5.00"]]


def test_a_report_as_csv_neutralises_formulas_and_keeps_negative_amounts() -> None:
    report = Report("t", ["name", "amount"], [{"name": SUM, "amount": Decimal("-300.00")}], {})
    out = io.StringIO()
    render(report, "csv", out)
    rows = list(csv.reader(io.StringIO(out.getvalue().lstrip("\ufeff"))))
    assert rows == [["name", "amount"], ["'" + SUM, "-300.00"]]


def _cli(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> str:
    code = main(["--db", str(db), *args])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_formula_names_are_neutralised_in_balances_csv_and_in_the_audit_pack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "ledger.db"
    lines: list[dict[str, object]] = [
        {
            "command": "open-programme",
            "policy": "chengdu",
            "year": 2025,
            "at": "2025-01-02T09:00:00+08:00",
        }
    ]
    for code, name in APPLICANTS.items():
        lines.append(
            {
                "command": "register-applicant",
                "credit_code": code,
                "name": name,
                "kind": "enterprise",
                "city": "Chengdu",
                "at": AT,
            }
        )
        lines.append(
            {"command": "apply-inclusive", "programme": "CD-2025", "applicant": code, "at": AT}
        )
    batch = tmp_path / "setup.jsonl"
    batch.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    _cli(capsys, db, "run", str(batch))

    raw = _cli(capsys, db, "balances", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(raw.lstrip("\ufeff"))))
    assert sorted(r["holder_name"] for r in rows) == sorted(["'" + HYPERLINK, "'" + SUM])
    assert {r["remaining"] for r in rows} == {"10000.00"}  # amounts untouched
    for line in raw.splitlines():
        assert not line.lstrip("\ufeff").startswith(("=", "+", "@"))

    pack = tmp_path / "pack"
    _cli(capsys, db, "audit", "export", str(pack))
    cells = []
    for table in pack.glob("*.csv"):
        cells += [c for row in csv.reader(io.StringIO(table.read_text("utf-8-sig"))) for c in row]
    assert "'" + HYPERLINK in cells and "'" + SUM in cells
    assert HYPERLINK not in cells and SUM not in cells
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))]
    dangerous_minus = [c for c in cells if c.startswith("-")]
    assert all(c.lstrip("-").replace(".", "", 1).isdigit() for c in dangerous_minus)
    # The pack still verifies: the checksums are those of the neutralised files.
    _cli(capsys, db, "audit", "verify-export", str(pack))
