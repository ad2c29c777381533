"""Reading bank and treasury statements (CSV) for ``finance import-statement``.

Accepted: UTF-8 with or without a byte-order mark, or GBK (detected: a file that is not UTF-8
but decodes as GB 18030 with Chinese text in it); anything else is refused clearly. Column
names are recognised in English or Chinese (交易日期, 对方户名, 对方账号, 金额, 摘要 …) and
can be set explicitly (``--column amount=支出金额``). A malformed file is refused as a whole,
naming every bad line (up to 20) and why; nothing is imported. A file holding a NUL or any
other control, invisible or bidirectional character in any cell (``ledger.parsers``' list) is
refused whole, naming each line and column: such a character is never stored. Spaces, tabs and
line breaks around a cell are trimmed, not refused (banks pad account numbers with a tab so that
spreadsheets keep them as text).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import date

from ledger.errors import InvalidInput
from ledger.finance import StatementLine
from ledger.money import parse_amount
from ledger.parsers import hostile_character

COLUMNS: dict[str, tuple[str, ...]] = {
    "value_date": ("value_date", "value date", "date", "交易日期", "记账日期", "入账日期", "日期"),
    "counterparty_name": (
        "counterparty_name",
        "counterparty",
        "payee",
        "对方户名",
        "收款人名称",
        "收款人",
        "对方名称",
    ),
    "counterparty_account": (
        "counterparty_account",
        "account",
        "对方账号",
        "收款人账号",
        "收款账号",
    ),
    "amount": ("amount", "金额", "交易金额", "支出金额", "借方金额", "付款金额"),
    "reference": ("reference", "remark", "摘要", "附言", "用途", "备注"),
}
REQUIRED = ("value_date", "counterparty_name", "amount")
_DATE = re.compile(r"^(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})$")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = ""
    if _CJK.search(text):
        return text
    raise InvalidInput(
        "invalid-value",
        "the statement is neither UTF-8 nor GBK text; save it from the bank's export as CSV "
        "(UTF-8 or GBK)",
    )


def _date(text: str, where: str) -> date:
    m = _DATE.match(text.strip())
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise InvalidInput("invalid-date", f"{where}: {text!r} is not a date")


def read_statement(
    data: bytes, columns: dict[str, str] | None = None
) -> tuple[str, list[StatementLine]]:
    """Returns the statement's content digest (its identity) and its lines."""
    text = decode(data)
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise InvalidInput("invalid-value", f"the statement is not readable CSV: {e}") from None
    if not rows:
        raise InvalidInput("invalid-value", "the statement is empty")
    refuse_hostile_cells(rows)
    header = [h.strip().lower() for h in rows[0]]
    position: dict[str, int] = {}
    for field, aliases in COLUMNS.items():
        wanted = [columns[field].lower()] if columns and field in columns else list(aliases)
        found = next((header.index(a.lower()) for a in wanted if a.lower() in header), None)
        if found is not None:
            position[field] = found
    missing = [f for f in REQUIRED if f not in position]
    if missing:
        raise InvalidInput(
            "invalid-value",
            f"line 1: no column for {', '.join(missing)}; found {', '.join(rows[0])}; "
            "name them with --column FIELD=HEADER",
        )
    lines: list[StatementLine] = []
    problems: list[str] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"line {number}"
        try:
            cell = {f: row[i].strip() if i < len(row) else "" for f, i in position.items()}
            amount = parse_amount(cell["amount"].replace(",", ""), field=f"{where}: amount")
            lines.append(
                StatementLine(
                    line=number,
                    value_date=_date(cell["value_date"], f"{where}: value_date"),
                    counterparty_name=cell["counterparty_name"],
                    counterparty_account=cell.get("counterparty_account", ""),
                    amount=amount,
                    reference=cell.get("reference", ""),
                )
            )
        except InvalidInput as e:
            problems.append(e.message if e.message.startswith("line") else f"{where}: {e.message}")
        if len(problems) >= 20:
            break
    if problems:
        raise InvalidInput(
            "invalid-value", "statement refused, nothing imported: " + "; ".join(problems)
        )
    canonical = json.dumps(
        [
            [
                str(line.value_date),
                line.counterparty_name,
                line.counterparty_account,
                str(line.amount),
                line.reference,
            ]
            for line in lines
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest(), lines


_PADDING = " \t\r\n"


def refuse_hostile_cells(rows: list[list[str]]) -> None:
    """The whole file is refused if any cell holds a control, invisible or bidirectional
    character (padding around a cell aside), naming each line and column (up to 20)."""
    problems: list[str] = []
    for number, row in enumerate(rows, start=1):
        for column, cell in enumerate(row, start=1):
            found = hostile_character(cell.strip(_PADDING))
            if found is not None:
                problems.append(
                    f"line {number}, column {column}: {found}, a control, invisible or "
                    "bidirectional character"
                )
                break
        if len(problems) >= 20:
            break
    if problems:
        raise InvalidInput(
            "invalid-value", "statement refused, nothing imported: " + "; ".join(problems)
        )


def parse_columns(pairs: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, header = pair.partition("=")
        if not sep or field not in COLUMNS or hostile_character(header) is not None:
            raise InvalidInput(
                "invalid-value",
                f"--column {pair!r}: write FIELD=HEADER with FIELD one of {', '.join(COLUMNS)}",
            )
        out[field] = header
    return out
