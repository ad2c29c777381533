"""CLI hygiene (issue 14): output into a closed pipe ends quietly (exit 0, nothing on stderr); a
file-system error names the path and the operating system's reason (exit 4), never "the ledger
database is unavailable"; every option a help text shows is accepted, and every accepted option
is shown.

The processes are the real ``voucher-ledger``; each group of them runs side by side, so the file
stays fast although every start of the command costs about a second of imports."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from commands.cli import build_parser, main
from ledger.ids import make_credit_code

CLI = str(Path(sys.executable).with_name("voucher-ledger"))
EXIT_FILE = 4
AT = "2025-03-01T09:00:00+08:00"
SUPPLIER = make_credit_code("91510100MA7000001")
VOUCHERS = 12  # enough for `audit history CD-2025` to outgrow the output buffer (8 KiB)


def _setup_lines() -> list[dict[str, object]]:
    lines: list[dict[str, object]] = [
        {
            "command": "open-programme",
            "policy": "chengdu",
            "year": 2025,
            "at": "2025-01-02T09:00:00+08:00",
        },
        {
            "command": "register-supplier",
            "credit_code": SUPPLIER,
            "name": "成都智算中心",
            "kind": "data-centre",
            "city": "Chengdu",
            "at": AT,
        },
        {
            "command": "publish-supplier-list",
            "programme": "CD-2025",
            "period": "2025H1",
            "suppliers": [SUPPLIER],
            "at": AT,
        },
    ]
    for i in range(VOUCHERS):
        applicant = make_credit_code(f"91510100MA6{i:06d}")
        lines += [
            {
                "command": "register-applicant",
                "credit_code": applicant,
                "name": f"成都示例科技{i}",
                "kind": "enterprise",
                "city": "Chengdu",
                "at": AT,
            },
            {
                "command": "apply-inclusive",
                "programme": "CD-2025",
                "applicant": applicant,
                "at": AT,
            },
        ]
    return lines


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("hygiene")
    batch = folder / "setup.jsonl"
    batch.write_text(
        "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in _setup_lines()),
        encoding="utf-8",
    )
    path = str(folder / "ledger.db")
    with contextlib.redirect_stdout(io.StringIO()) as results:
        code = main(["--db", path, "--actor", "e2e", "run", str(batch)])
    assert code == 0, results.getvalue()[-500:]
    return path


def _side_by_side(runs: dict[str, Sequence[str] | str]) -> dict[str, tuple[int, str, str]]:
    """Start every process at once (a string is a shell line); (exit code, stdout, stderr)."""
    started = {
        name: subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            shell=isinstance(argv, str),
        )
        for name, argv in runs.items()
    }
    results = {}
    for name, process in started.items():
        out, err = process.communicate(timeout=120)
        results[name] = (process.returncode, out or "", err)
    return results


# ---- a closed pipe ----------------------------------------------------------------------------

CLOSED_PIPE_REPORTS = {
    "balances (a small table: fails at the last flush)": ["balances"],
    "quota --format csv": ["quota", "--format", "csv"],
    "audit history --format json (large: fails while written)": [
        "audit",
        "history",
        "CD-2025",
        "--format",
        "json",
    ],
}


def test_output_into_a_closed_pipe_ends_quietly_with_exit_0(db: str) -> None:
    # The reader has gone before the first byte is written, so every write fails: the small
    # reports fail at the last flush, the large ones while they are being written.
    started = {}
    for name, args in CLOSED_PIPE_REPORTS.items():
        reader, writer = os.pipe()
        os.close(reader)
        started[name] = subprocess.Popen(
            [CLI, "--db", db, *args], stdout=writer, stderr=subprocess.PIPE, text=True
        )
        os.close(writer)
    # And as a user types it: `head` reads a line and goes; the rest cannot be written.
    shell = f'"{CLI}" --db "{db}" balances | head -1; echo "exit code ${{PIPESTATUS[0]}}"'
    piped = subprocess.Popen(
        ["bash", "-c", shell],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for name, process in started.items():
        _, err = process.communicate(timeout=120)
        assert (process.returncode, err) == (0, ""), name
    out, err = piped.communicate(timeout=120)
    assert err == "" and piped.returncode == 0
    assert out.splitlines() == [
        "Voucher balances — simulated clock (demo, training or test ledger)",
        "exit code 0",
    ]


# ---- file-system errors -----------------------------------------------------------------------


def test_an_unwritable_export_folder_and_a_missing_input_file_exit_4_naming_the_path(
    db: str, tmp_path: Path
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n", encoding="utf-8")
    pack = a_file / "pack"  # no folder can be made inside a file, not even by root
    batch = tmp_path / "missing" / "batch.jsonl"
    fresh_db = tmp_path / "never-created.db"
    runs: dict[str, Sequence[str] | str] = {
        "export": [CLI, "--db", db, "audit", "export", str(pack)],
        "run": [CLI, "--db", str(fresh_db), "run", str(batch)],
    }
    if Path("/dev/full").exists():
        runs["full disk"] = f'"{CLI}" --db "{db}" balances > /dev/full'
    results = _side_by_side(runs)

    assert results["export"][::2] == (
        EXIT_FILE,
        f"voucher-ledger: file error: {pack}: Not a directory\n",
    )
    assert results["run"][::2] == (
        EXIT_FILE,
        f"voucher-ledger: file error: {batch}: No such file or directory\n",
    )
    assert not fresh_db.exists()  # a mistyped batch path creates no empty ledger
    if "full disk" in results:
        assert results["full disk"][::2] == (
            EXIT_FILE,
            "voucher-ledger: file error: standard output: No space left on device\n",
        )


@pytest.mark.parametrize(
    ("args", "named", "reason"),
    [
        (["audit", "export", "{file}"], "{file}", "Not a directory"),
        (["run", "{folder}"], "{folder}", "Is a directory"),
        (["audit", "verify", "--digest", "{missing}"], "{missing}", "No such file or directory"),
        (["audit", "verify-export", "{missing}"], "{missing}", "No such file or directory"),
        (["finance", "import-statement", "{missing}"], "{missing}", "No such file or directory"),
    ],
    ids=["export-over-a-file", "run-a-folder", "digest", "verify-export", "import-statement"],
)
def test_other_file_errors_exit_4_naming_the_path(
    db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    named: str,
    reason: str,
) -> None:
    """The same, in this process (each start of the command costs a second)."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n", encoding="utf-8")
    paths = {"file": str(a_file), "folder": str(tmp_path), "missing": str(tmp_path / "gone")}
    code = main(["--db", db, "--actor", "e2e", *(a.format(**paths) for a in args)])
    assert (code, capsys.readouterr().err) == (
        EXIT_FILE,
        f"voucher-ledger: file error: {named.format(**paths)}: {reason}\n",
    )


def test_a_database_that_cannot_be_opened_is_still_a_database_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # SQLite refuses a folder as its file with its own error: "unavailable" (exit 3) as before.
    assert main(["--db", str(tmp_path), "balances"]) == 3
    assert "the ledger database is unavailable" in capsys.readouterr().err


# ---- what help shows is what is accepted ------------------------------------------------------

OPTION = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")


def _walk(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for name, child in _children(parser).items():
        yield from _walk(child[1], (*path, name))


def _children(
    parser: argparse.ArgumentParser,
) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """Each sub-command: the help line its parent lists it with, and its parser."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {a.dest: a.help or "" for a in action._choices_actions}
            for name, child in action.choices.items():
                found[name] = (listed.get(name, ""), child)
    return found


def _accepted(parser: argparse.ArgumentParser) -> set[str]:
    return {s for action in parser._actions for s in action.option_strings}


def _own_text(parser: argparse.ArgumentParser) -> str:
    """Usage, description and the help of its own arguments: not its sub-commands' lines."""
    parts = [parser.format_usage(), parser.description or ""]
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            parts.append(str(action.help or ""))
    return "\n".join(parts)


def _name(path: tuple[str, ...]) -> str:
    return " ".join(("voucher-ledger", *path))


@pytest.fixture
def parser(monkeypatch: pytest.MonkeyPatch) -> argparse.ArgumentParser:
    monkeypatch.setenv("COLUMNS", "100")
    return build_parser()


def test_every_accepted_option_is_shown_in_help(parser: argparse.ArgumentParser) -> None:
    problems = []
    for path, p in _walk(parser):
        text = p.format_help()
        shown = set(OPTION.findall(text))
        for action in p._actions:
            if action.help == argparse.SUPPRESS:
                problems.append(f"{_name(path)}: {action.option_strings or action.dest} hidden")
            for option in action.option_strings:
                if option not in shown:
                    problems.append(f"{_name(path)}: accepts {option} but its help omits it")
            if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
                metavar = action.metavar or action.dest
                if str(metavar) not in p.format_usage():
                    problems.append(f"{_name(path)}: argument {metavar} not in its usage")
    assert problems == []


def test_help_shows_no_option_that_is_refused(parser: argparse.ArgumentParser) -> None:
    problems = []
    for path, p in _walk(parser):
        accepted = _accepted(p)
        for option in sorted(set(OPTION.findall(_own_text(p))) - accepted):
            problems.append(f"{_name(path)}: its help shows {option}, which it refuses")
        # A sub-command's line in its parent's list speaks for the sub-command.
        for name, (line, child) in _children(p).items():
            for option in sorted(set(OPTION.findall(line)) - _accepted(child)):
                problems.append(f"{_name(path)}: lists {name} with {option}, which {name} refuses")
        # Nothing in the help escapes these two checks (the epilog has its own test below).
        covered = accepted | set(OPTION.findall(_own_text(p) + (p.epilog or "")))
        covered |= {o for line, _ in _children(p).values() for o in OPTION.findall(line)}
        for option in sorted(set(OPTION.findall(p.format_help())) - covered):
            problems.append(f"{_name(path)}: help shows {option} from nowhere this test checks")
    assert problems == []


def _resolve(parser: argparse.ArgumentParser, words: list[str]) -> argparse.ArgumentParser | None:
    for word in words:
        child = _children(parser).get(word)
        if child is None:
            return None
        parser = child[1]
    return parser


def test_the_command_list_in_the_main_help_names_what_each_command_takes(
    parser: argparse.ArgumentParser,
) -> None:
    epilog = parser.epilog or ""
    assert "Commands by user:" in epilog
    listing = epilog.split("Commands by user:\n", 1)[1].split("\nExit codes", 1)[0]
    groups: list[tuple[str, str]] = []
    for line in listing.splitlines():
        if line.startswith("  ") and not line.startswith("      "):
            label, _, names = line.strip().partition(": ")
            groups.append((label, names))
        else:
            groups[-1] = (groups[-1][0], groups[-1][1] + " " + line.strip())
    problems = []
    for label, names in groups:
        for_all = OPTION.findall(label)
        for item in (n.strip() for n in names.split(", ")):
            words = item.split(" [", 1)[0].split()
            command = _resolve(parser, words)
            if command is None:
                problems.append(f"{label}: {item!r} is no command")
                continue
            given = [*for_all, *OPTION.findall(item)]
            for option in given:
                if option not in _accepted(command):
                    problems.append(f"{label}: {' '.join(words)} does not take {option}")
            # `demo [--programme qingdao]`: the value shown is one the option takes.
            for option, value in re.findall(r"\[(--[\w-]+) (\w+)\]", item):
                action = next(a for a in command._actions if option in a.option_strings)
                if action.choices is not None and value not in action.choices:
                    problems.append(f"{label}: {option} takes no {value!r}")
    assert problems == []


@pytest.mark.parametrize(
    "argv",
    [
        ["--db", "x.db", "--actor", "a", "--format", "csv", "balances"],
        ["balances", "--db", "x.db", "--actor", "a", "--format", "csv"],
        ["--db", "x.db", "--actor", "a", "--format", "csv", "audit", "history", "S"],
        ["audit", "history", "S", "--db", "x.db", "--actor", "a", "--format", "csv"],
        ["--db", "x.db", "--actor", "a", "--format", "csv", "finance", "budget"],
        ["finance", "budget", "--db", "x.db", "--actor", "a", "--format", "csv"],
    ],
)
def test_the_global_options_work_before_and_after_the_sub_command(
    parser: argparse.ArgumentParser, argv: list[str]
) -> None:
    args = parser.parse_args(argv)
    assert (args.db, args.actor, args.format) == ("x.db", "a", "csv")
