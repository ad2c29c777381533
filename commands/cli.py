"""``voucher-ledger``: a thin entrypoint. It parses arguments into the same command objects the
JSON Lines runner uses, executes them, brings the read models up to date and prints.

Exit codes: 0 accepted, 1 rejected by a rule, 2 malformed input, 3 database unavailable, 4 a
file or folder could not be read or written.
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import os
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO, cast

from eventsourcing.persistence import PersistenceError
from sqlalchemy.exc import SQLAlchemyError

from commands import render as r
from commands.batch import EXIT_MALFORMED, EXIT_OK, EXIT_REJECTED, run_batch
from commands.envelope import ENVELOPE, execute, parse_command, wall_clock
from commands.wiring import (
    DEFAULT_DB,
    AuthenticationFailed,
    Ledger,
    identity_for,
    open_ledger,
)
from ledger.clock import local_date
from ledger.errors import InvalidInput, Rejected
from ledger.events import Events
from ledger.ids import parse_credit_code
from ledger.policy import PolicyFileError
from ledger.vocabulary import DECLARATIONS, Command
from projections import reports
from projections.runner import ReadModelFailed
from projections.store import ReadModelStore

# Every report of a ledger created on a simulated clock says so (trust model).
SIMULATED_NOTE = " — simulated clock (demo, training or test ledger)"

EXIT_UNAVAILABLE = 3  # the database could not be reached or used
EXIT_FILE = 4  # a file or folder (an input file, an export folder) could not be read or written

USERS = {
    "clerk": "programme office",
    "finance": "finance",
    "enforcement": "enforcement",
    "auditor": "auditors",
    "administrator": "administrators",
}


def _date_option(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _today() -> date:
    """Reports' default business date: today in the programmes' time zone."""
    return local_date(wall_clock())


def _require_administrator(ledger: Ledger, identity: str, what: str) -> None:
    """Maintenance outside the command vocabulary (rebuild, database roles) is the
    administrators' (while no role is granted, everyone's)."""
    table = ledger.app.roles()
    if table is not None and not table.is_administrator(identity):
        raise Rejected(
            "not-permitted", f"{identity} may not {what}: it needs the administrator role"
        )


# Commands the command line files under a user's group rather than at the top level.
GROUPED = {"import-statement": "finance", "reconcile": "finance"}


def _add_command(sub: Any, declared: type[Command], common: argparse.ArgumentParser) -> None:
    # argparse formats help with %: a policy's "50%" must be escaped.
    text = declared.summary.replace("%", "%%")
    p = sub.add_parser(declared.command_name, help=text, description=text, parents=[common])
    for fld in (*declared.field_specs(), *ENVELOPE):
        if fld.name == "actor":
            continue  # a global option
        kwargs: dict[str, Any] = {"help": fld.help.replace("%", "%%"), "dest": fld.name}
        if fld.shape == "file":
            p.add_argument(fld.name, metavar=fld.name.upper(), help=kwargs["help"])
            continue
        if fld.shape in ("list", "pairs"):
            kwargs["action"] = "append"
            kwargs["metavar"] = "KEY=VALUE" if fld.shape == "pairs" else fld.name.upper()
        elif fld.shape == "objects":
            kwargs["metavar"] = "JSON|@FILE"
        p.add_argument(fld.option, required=fld.required, **kwargs)
    p.set_defaults(handler=lambda args, out: _write_command(declared, args, out))


def _progress(ledger: Ledger, err: TextIO) -> Callable[[int, int], None] | None:
    if not err.isatty():
        return None
    total = ledger.app.recorder.max_notification_id() or 0
    started = time.monotonic()

    def show(done: int, position: int) -> None:
        elapsed = max(time.monotonic() - started, 1e-6)
        rate = done / elapsed
        eta = (total - position) / rate if rate else 0.0
        err.write(f"\r{position:,}/{total:,} events  {rate:,.0f} events/s  ETA {eta:,.0f}s   ")
        err.flush()

    return show


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help=f"ledger database: a SQLite file (default {DEFAULT_DB}, or $VOUCHER_LEDGER_DB) "
        "or postgresql://user@host:port/dbname",
    )
    common.add_argument(
        "--actor",
        default=argparse.SUPPRESS,
        help="who gives the command (default $VOUCHER_LEDGER_ACTOR or the login name)",
    )
    common.add_argument(
        "--format", choices=r.FORMATS, default=argparse.SUPPRESS, help="output format"
    )
    top_level = [d for d in DECLARATIONS.values() if d.command_name not in GROUPED]
    groups = [
        (label, [d.command_name for d in top_level if d.needs_role == user])
        for user, label in USERS.items()
        if any(d.needs_role == user for d in top_level)
    ]
    groups += [
        (
            "finance, more",
            [
                "finance import-statement",
                "finance reconcile",
                "finance disbursements",
                "finance budget",
                "finance exceptions",
            ],
        ),
        (
            "reports (all take --as-of)",
            [
                "balances",
                "quota",
                "payments",
                "special-round",
                "supplier-subsidy",
                "supplier-caps",
                "operator-subsidy",
                "debarment-status",
                "debarments",
                "receivables",
            ],
        ),
        ("explanations", ["explain"]),
        (
            "auditors",
            [
                "audit rebuild [--check]",
                "audit digest",
                "audit verify",
                "audit history",
                "audit late-entries",
                "audit refusals",
                "audit export",
                "audit verify-export",
            ],
        ),
        (
            "database administration",
            [
                "admin create-auditor-role",
                "admin create-writer-role",
                "admin issue-token",
                "rebuild",
            ],
        ),
        (
            "HTTP service",
            ["serve [--host --port --workers]"],
        ),
        ("batch and demo", ["run [--resume]", "demo [--programme qingdao]"]),
    ]
    epilog = (
        "Commands by user:\n"
        + "\n".join(
            textwrap.fill(
                ", ".join(names),
                width=98,
                initial_indent=f"  {label}: ",
                subsequent_indent="      ",
                break_on_hyphens=False,
            )
            for label, names in groups
        )
        + "\nExit codes: 0 accepted, 1 rejected by a rule, 2 malformed input, 3 database"
        " unavailable, 4 a file or folder could not be read or written."
    )
    parser = argparse.ArgumentParser(
        prog="voucher-ledger",
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Event-sourced ledger for public compute-voucher programmes (算力券).",
        epilog=epilog,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for declared in top_level:
        _add_command(sub, declared, common)

    run = sub.add_parser("run", parents=[common], help="run a JSON Lines file of commands")
    run.add_argument("file", type=Path)
    run.add_argument(
        "--resume",
        action="store_true",
        help="continue a batch that stopped (every run is safe to repeat: each line is applied "
        "at most once); report how many lines were done already",
    )
    run.set_defaults(handler=_run)

    as_of = argparse.ArgumentParser(add_help=False)
    as_of.add_argument(
        "--as-of",
        default=None,
        help="the ledger as it stood: a log position, or a recorded time (ISO with zone); "
        "replayed into a scratch store, the live read models are not touched",
    )
    for name, help_text in (
        ("balances", "voucher balances"),
        ("quota", "quota and budget use per programme and instrument"),
        ("payments", "payment instructions"),
    ):
        rp = sub.add_parser(name, parents=[common, as_of], help=help_text)
        rp.add_argument("--programme", help="only this programme, e.g. CD-2025")
        if name == "balances":
            rp.add_argument("--holder", help="only this holder's credit code")
            rp.add_argument(
                "--on",
                type=_date_option,
                default=None,
                help="business-date view: only facts dated on or before this day",
            )
        rp.set_defaults(handler=_report, report=name)

    sr = sub.add_parser("special-round", parents=[common, as_of], help="the special-voucher round")
    sr.add_argument("--programme", required=True, help="programme, e.g. CD-2025")
    sr.set_defaults(handler=_report, report="special-round", holder=None)

    for name, help_text in (
        ("debarment-status", "an entity's bars and whether it is barred on a date"),
        ("debarments", "the debarment register, with each bar's status on a date"),
        ("receivables", "clawback receivables with ageing on a date"),
    ):
        rp = sub.add_parser(name, parents=[common, as_of], help=help_text)
        if name == "debarment-status":
            rp.add_argument("entity", help="credit code")
        rp.add_argument(
            "--on", type=_date_option, default=None, help="business date (default: today)"
        )
        rp.set_defaults(handler=_report, report=name, programme=None)

    caps = sub.add_parser(
        "supplier-caps", parents=[common, as_of], help="per supplier and year: the 2M cap's use"
    )
    caps.add_argument("--year", type=int, help="only this year")
    caps.set_defaults(handler=_report, report="supplier-caps", programme=None)
    sround = sub.add_parser(
        "supplier-subsidy", parents=[common, as_of], help="a supplier-subsidy round's plan"
    )
    sround.add_argument("--programme", required=True, help="programme, e.g. CD-2026")
    sround.add_argument("--round", required=True, help="round name, e.g. R1")
    sround.set_defaults(handler=_report, report="supplier-subsidy")

    ops = sub.add_parser(
        "operator-subsidy", parents=[common, as_of], help="a pro-rata claim programme's allocation"
    )
    ops.add_argument("--programme", required=True, help="programme, e.g. QD-2024")
    ops.set_defaults(handler=_report, report="operator-subsidy")

    ex = sub.add_parser(
        "explain", parents=[common], help="why: a voucher number or a credit code, explained"
    )
    ex.add_argument("subject", help="voucher number (CD-2025-SPC-0001) or credit code")
    ex.set_defaults(handler=_explain)

    audit = sub.add_parser("audit", help="auditors: replay, verify, history, export")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="AUDIT_COMMAND", required=True)
    check = audit_sub.add_parser(
        "rebuild", parents=[common], help="rebuild the read models (with --check: compare only)"
    )
    check.add_argument(
        "--check",
        action="store_true",
        help="replay into a scratch store and diff against the live read models; exit 1 on "
        "any difference; writes nothing",
    )
    check.set_defaults(handler=_audit_rebuild)
    audit_sub.add_parser(
        "digest", parents=[common], help="print the hash chain's head to keep outside"
    ).set_defaults(handler=_audit_digest)
    verify = audit_sub.add_parser(
        "verify", parents=[common], help="recompute the hash chain; name the first change"
    )
    verify.add_argument("--digest", type=Path, help="a digest kept from `audit digest`")
    verify.set_defaults(handler=_audit_verify)
    hist = audit_sub.add_parser(
        "history", parents=[common], help="every event that touched a voucher, entity or payment"
    )
    hist.add_argument("subject", help="voucher number, credit code or payment reference")
    hist.set_defaults(handler=_audit_history)
    late = audit_sub.add_parser(
        "late-entries",
        parents=[common, as_of],
        help="commands dated well before they were recorded, with the reason given",
    )
    late.set_defaults(handler=_report, report="late-entries", programme=None)
    refused = audit_sub.add_parser(
        "refusals",
        parents=[common, as_of],
        help="refused business commands: what was asked, by whom, and the rule that refused it",
    )
    refused.add_argument(
        "--subject", help="only those naming this credit code, voucher number or reference"
    )
    refused.set_defaults(handler=_report, report="refusals", programme=None)
    export = audit_sub.add_parser("export", parents=[common], help="write an audit pack")
    export.add_argument("directory", type=Path)
    export.set_defaults(handler=_audit_export)
    vexport = audit_sub.add_parser(
        "verify-export", parents=[common], help="re-check an audit pack offline"
    )
    vexport.add_argument("directory", type=Path)
    vexport.set_defaults(handler=_audit_verify_export)

    finance = sub.add_parser("finance", help="finance: statements, reconciliation, reports")
    finance_sub = finance.add_subparsers(
        dest="finance_command", metavar="FINANCE_COMMAND", required=True
    )
    for name, group in GROUPED.items():
        if group == "finance":
            _add_command(finance_sub, DECLARATIONS[name], common)
    dis = finance_sub.add_parser(
        "disbursements", parents=[common, as_of], help="payments grouped as you choose"
    )
    dis.add_argument(
        "--by",
        default="programme,purpose,funding_source",
        help="comma-separated: " + ", ".join(reports.DISBURSEMENT_DIMENSIONS),
    )
    dis.set_defaults(handler=_report, report="disbursements", programme=None)
    bud = finance_sub.add_parser(
        "budget", parents=[common, as_of], help="budget committed, paid, remaining"
    )
    bud.set_defaults(handler=_report, report="budget", programme=None)
    exc = finance_sub.add_parser(
        "exceptions", parents=[common, as_of], help="open reconciliation exceptions with age"
    )
    exc.add_argument("--on", type=_date_option, default=None, help="age on this date")
    exc.add_argument("--all", action="store_true", help="resolved ones too")
    exc.set_defaults(handler=_report, report="exceptions", programme=None)
    # Four eyes on money (issue 15): what may be approved, and the file for the bank.
    approvable = finance_sub.add_parser(
        "approvable",
        parents=[common],
        help="open, unapproved payment instructions and whether you may approve them",
    )
    approvable.add_argument("--programme", help="only this programme")
    approvable.add_argument("--purpose", help="only this purpose")
    approvable.add_argument("--payee", help="only this payee (credit code)")
    approvable.add_argument(
        "--up-to", type=_date_option, default=None, help="only those instructed by this date"
    )
    approvable.add_argument("--on", type=_date_option, default=None, help="standing on this date")
    approvable.set_defaults(handler=_approvable)
    payment_file = finance_sub.add_parser(
        "payment-file",
        parents=[common],
        help="the bank payment file (CSV): approved instructions not yet paid",
    )
    payment_file.add_argument("--programme", help="only this programme")
    payment_file.add_argument("--output", type=Path, help="write to this file (default: stdout)")
    payment_file.set_defaults(handler=_payment_file)

    admin = sub.add_parser("admin", help="administrators: database set-up")
    admin_sub = admin.add_subparsers(dest="admin_command", metavar="ADMIN_COMMAND", required=True)
    role = admin_sub.add_parser(
        "create-auditor-role",
        parents=[common],
        help="PostgreSQL: a read-only auditor role (voucher_ledger_auditor)",
    )
    role.add_argument("--login", help="also create this login role in the auditor role")
    role.set_defaults(handler=_create_role, role="auditor")
    writer = admin_sub.add_parser(
        "create-writer-role",
        parents=[common],
        help="PostgreSQL: a role that runs commands but cannot change the schema or events",
    )
    writer.add_argument("--login", help="also create this login role in the writer role")
    writer.set_defaults(handler=_create_role, role="writer")
    token = admin_sub.add_parser(
        "issue-token",
        parents=[common],
        help="an API token for the HTTP service (shown once; see revoke-api-token)",
    )
    token.add_argument("--identity", required=True, help="the identity the token stands for")
    token.add_argument("--token-id", help="the token's public id (default: random)")
    token.add_argument("--label", help="what the token is for")
    token.set_defaults(handler=_issue_token)

    serve = sub.add_parser("serve", parents=[common], help="the HTTP service (docs/service.md)")
    serve.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    serve.add_argument("--workers", type=int, default=1, help="processes (PostgreSQL only)")
    serve.set_defaults(handler=_serve)

    rb = sub.add_parser("rebuild", parents=[common], help="drop the read models, replay the log")
    rb.set_defaults(handler=_rebuild)

    demo = sub.add_parser("demo", parents=[common], help="run a realistic programme year")
    demo.add_argument(
        "--programme",
        choices=("chengdu", "qingdao"),
        default="chengdu",
        help="chengdu (default): the voucher year; qingdao: the operation-subsidy allocation",
    )
    demo.set_defaults(handler=_demo)
    return parser


def _write_command(declared: type[Command], args: argparse.Namespace, out: TextIO) -> int:
    raw: dict[str, Any] = {"command": declared.command_name}
    for fld in (*declared.field_specs(), *ENVELOPE):
        value = getattr(args, fld.name, None)
        if value is None:
            continue
        if fld.shape == "objects" and isinstance(value, str) and value.startswith("@"):
            value = Path(value[1:]).read_text(encoding="utf-8")
        raw[fld.name] = value
    if args.actor:
        raw["actor"] = args.actor  # on someone's behalf: the ledger allows administrators only
    given = parse_command(raw, identity=args.acting_identity, now=wall_clock)
    with _ledger(args) as ledger:
        if "at" not in raw:  # now, by the ledger's own clock (simulated, for a demo ledger)
            now = dataclasses.replace(given.context, at=ledger.app.clock.now())
            given = dataclasses.replace(given, context=now)
        events = execute(ledger.app, given)
        caught_up = _catch_up_after(ledger)
        summary = _SUMMARIES.get(declared.command_name)
        if summary is not None and caught_up and args.format != "json":
            out.write(summary(ledger, given, events) + "\n")
            return EXIT_OK
    if args.format == "json":
        out.write(r.dumps({"ok": True, "events": [r.describe_event(e) for e in events]}) + "\n")
        return EXIT_OK
    if not events:
        out.write(f"{declared.command_name}: accepted; nothing new to record (already done)\n")
    for e in events:
        d = r.describe_event(e)
        facts = {
            k: v
            for k, v in d.items()
            if k
            not in ("event", "id", "version", "at", "actor", "command_id", "basis", "parameters")
        }
        out.write(
            f"{d['event']}: " + ", ".join(f"{k}={r.jsonable(v)}" for k, v in facts.items()) + "\n"
        )
    return EXIT_OK


def _catch_up_after(ledger: Ledger) -> bool:
    """The command is stored: its exit status is its own. A read-model catch-up that fails
    now is reported as a warning; the next report or `rebuild` catches up."""
    try:
        ledger.runner.catch_up()
    except Exception as e:  # any failure here must not fail a stored command
        sys.stderr.write(
            f"voucher-ledger: warning: the command is stored, but the read models could not "
            f"catch up ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})\n"
        )
        return False
    return True


def _imported(ledger: Ledger, given: Any, events: Events) -> str:
    name = given.command.file.name
    if not events:
        return f"{name}: imported already (same content); nothing changed"
    imported: Any = events[0]
    return f"{name}: {len(imported.lines)} lines imported as {imported.statement}"


def _reconciled(ledger: Ledger, given: Any, events: Events) -> str:
    report = reports.reconciliation_exceptions(ledger.store, local_date(given.context.at))
    outcomes = Counter(e.outcome for e in events if hasattr(e, "outcome"))
    outcomes["missing"] = sum(type(e).__name__ == "ReportedMissing" for e in events)
    done = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()) if v)
    return f"reconciled: {done or 'nothing new to match'}; {len(report.rows)} exceptions open"


# What the command line says after a command, where a list of events says too little.
_SUMMARIES: dict[str, Callable[[Ledger, Any, Events], str]] = {
    "import-statement": _imported,
    "reconcile": _reconciled,
}


# ---- four eyes on money (issue 15): bulk approval, what is approvable, the bank file --------


def _approved_in_bulk(ledger: Ledger, given: Any, events: Events) -> str:
    """A preview lists what would be approved and skipped; a run says what it did."""
    import io

    from ledger.handlers.finance import plan_approvals

    if given.command.preview:
        plan = plan_approvals(ledger.app, given.context, given.command)
        rows = [
            {
                "reference": a.reference,
                "payee": a.payee,
                "payee_name": a.payee_name,
                "amount": a.amount,
                "purpose": a.purpose,
                "instructed_on": a.instructed_on,
                "instructed_by": a.instructed_by,
                "would": "approve" if not a.code else f"skip ({a.code})",
            }
            for a in plan
        ]
        would = [a for a in plan if not a.code]
        report = reports.Report(
            "Preview: nothing stored",
            list(rows[0]) if rows else ["reference"],
            rows,
            {"reference": f"would approve {len(would)}", "amount": sum(a.amount for a in would)},
        )
        text = io.StringIO()
        r.render_table(report, text)
        return text.getvalue().rstrip("\n")
    run: Any = next((e for e in events if type(e).__qualname__ == "BulkApproval.Run"), None)
    if run is None:
        return "approve-payments: no open, unapproved instruction matches"
    lines = [f"approved {len(run.approved)}; skipped {len(run.skipped)}"]
    lines += [f"  approved {reference}" for reference in run.approved]
    lines += [f"  skipped {s['reference']} ({s['code']}): {s['message']}" for s in run.skipped]
    return "\n".join(lines)


_SUMMARIES["approve-payments"] = _approved_in_bulk


def _approvable(args: argparse.Namespace, out: TextIO) -> int:
    with _ledger(args) as ledger:
        ledger.runner.catch_up()
        report = reports.approvable_payments(
            ledger.store,
            args.on or _today(),
            programme=args.programme,
            purpose=args.purpose,
            payee=parse_credit_code(args.payee, field="payee") if args.payee else None,
            up_to=args.up_to,
            approver=args.actor or args.acting_identity,
        )
        if ledger.simulated_clock:
            report = dataclasses.replace(report, title=report.title + SIMULATED_NOTE)
    r.render(report, args.format, out)
    return EXIT_OK


def _payment_file(args: argparse.Namespace, out: TextIO) -> int:
    """Approved, unpaid instructions as the bank imports them: CSV, UTF-8 with a byte-order
    mark (so spreadsheets show the Chinese headers), every cell safe from formula injection."""
    import csv
    import io

    with _ledger(args) as ledger:
        ledger.runner.catch_up()
        report = reports.bank_payment_file(ledger.store, args.programme)
        simulated = ledger.simulated_clock
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(report.columns)
    writer.writerows([[row[c] for c in report.columns] for row in report.rows])
    note = SIMULATED_NOTE.strip() if simulated else ""
    if args.output is None:
        out.write("\ufeff" + text.getvalue())
        if note:
            sys.stderr.write(f"voucher-ledger: {note}\n")
        return EXIT_OK
    args.output.write_text(text.getvalue(), encoding="utf-8-sig", newline="")
    total = report.totals.get("金额", 0)
    out.write(
        f"wrote {len(report.rows)} approved payments ({total}) to {args.output}"
        + (f" {note}" if note else "")
        + "\n"
    )
    return EXIT_OK


class _ledger:
    """Open the ledger named by --db for the length of one command."""

    def __init__(self, args: argparse.Namespace, *, read_only: bool = False) -> None:
        self.db = getattr(args, "db", None)
        self.read_only = read_only

    def __enter__(self) -> Ledger:
        self.ledger = open_ledger(self.db, read_only=self.read_only)
        return self.ledger

    def __exit__(self, *exc: object) -> None:
        self.ledger.close()


def _run(args: argparse.Namespace, out: TextIO) -> int:
    # Opened before the ledger, so that a mistyped path creates no database: a missing or
    # unreadable file is reported with the operating system's reason (exit 4).
    args.file.open("rb").close()
    with _ledger(args) as ledger:
        return run_batch(
            ledger,
            args.file,
            out,
            identity=args.acting_identity,
            now=ledger.app.clock.now,
            resume=args.resume,
            err=sys.stderr,
        )


def _report(args: argparse.Namespace, out: TextIO) -> int:
    from commands.audit import AsOf, replay

    on = getattr(args, "on", None) if args.report == "balances" else None
    # A replay (--as-of, a business-date view) writes nothing: it runs read-only.
    with _ledger(args, read_only=bool(args.as_of or on)) as ledger:
        progress = _progress(ledger, sys.stderr)
        if args.as_of or on:
            # As it stood, or a business-date view: a scratch replay; the live store is untouched.
            store = replay(ledger, AsOf.parse(args.as_of) if args.as_of else None, progress, on)
        else:
            ledger.runner.catch_up(progress=progress)
            store = ledger.store
        report = _build_report(args, store)
        if ledger.simulated_clock:
            report = dataclasses.replace(report, title=report.title + SIMULATED_NOTE)
    _end_progress(progress)
    r.render(report, args.format, out)
    return EXIT_OK


def _build_report(args: argparse.Namespace, store: ReadModelStore) -> reports.Report:
    if args.report == "balances":
        report = reports.balances(store, args.programme, args.holder)
    elif args.report == "quota":
        report = reports.quota(store, args.programme)
    elif args.report == "special-round":
        report = reports.special_round(store, args.programme)
    elif args.report in ("debarment-status", "debarments"):
        entity = (
            parse_credit_code(args.entity, field="entity")
            if args.report == ("debarment-status")
            else None
        )
        report = reports.debarment_register(store, args.on or _today(), entity)
    elif args.report == "receivables":
        report = reports.receivables_ledger(store, args.on or _today())
    elif args.report == "disbursements":
        dims = [d.strip() for d in args.by.split(",") if d.strip()]
        unknown = [d for d in dims if d not in reports.DISBURSEMENT_DIMENSIONS]
        if unknown:
            raise InvalidInput(
                "invalid-value",
                f"--by: {unknown[0]!r} is not one of {', '.join(reports.DISBURSEMENT_DIMENSIONS)}",
            )
        report = reports.disbursements(store, dims)
    elif args.report == "budget":
        report = reports.budget_use(store)
    elif args.report == "exceptions":
        report = reports.reconciliation_exceptions(store, args.on or _today(), not args.all)
    elif args.report == "operator-subsidy":
        report = reports.operator_allocation(store, args.programme)
    elif args.report == "supplier-caps":
        report = reports.supplier_caps(store, args.year)
    elif args.report == "late-entries":
        report = reports.late_entries(store)
    elif args.report == "refusals":
        report = reports.refused_commands(store, args.subject)
    elif args.report == "supplier-subsidy":
        report = reports.supplier_subsidy_round(store, args.programme, args.round)
    else:
        report = reports.payment_instructions(store, args.programme)
    return report


def _end_progress(progress: object) -> None:
    if progress is not None:
        sys.stderr.write("\n")


def _audit_rebuild(args: argparse.Namespace, out: TextIO) -> int:
    if not args.check:
        return _rebuild(args, out)
    from commands.audit import rebuild_check

    with _ledger(args, read_only=True) as ledger:
        progress = _progress(ledger, sys.stderr)
        differences = rebuild_check(ledger, progress)
    _end_progress(progress)
    if differences:
        out.write("\n".join(differences) + "\n")
        out.write(f"audit rebuild --check: {len(differences)} differences\n")
        return EXIT_REJECTED
    out.write("audit rebuild --check: the live read models equal a replay from position 0\n")
    return EXIT_OK


def _audit_digest(args: argparse.Namespace, out: TextIO) -> int:
    from projections.chain import digest_of

    with _ledger(args, read_only=True) as ledger:
        digest = digest_of(ledger.app.recorder)
    out.write(json.dumps({**digest.as_json(), "taken_at": wall_clock().isoformat()}) + "\n")
    return EXIT_OK


def _audit_verify(args: argparse.Namespace, out: TextIO) -> int:
    from projections.chain import Digest, verify

    kept = None
    if args.digest:
        text = args.digest.read_text(encoding="utf-8")  # unreadable: a file error (exit 4)
        try:
            kept = Digest.from_json(json.loads(text))
        except (ValueError, KeyError) as e:
            raise InvalidInput("invalid-value", f"--digest: unreadable digest ({e})") from None
    with _ledger(args, read_only=True) as ledger:
        verdict = verify(ledger.app.recorder, ledger.store.engine, kept)
    for problem in verdict.problems:
        out.write(problem + "\n")
    if not verdict.ok:
        out.write(
            f"audit verify: TAMPERED — the log first differs at position "
            f"{verdict.first_bad_position}\n"
        )
        return EXIT_REJECTED
    out.write(
        f"audit verify: {verdict.events:,} events, chain intact up to position "
        f"{verdict.head[0]} (head {verdict.head[1]})"
        + (", matches the kept digest" if kept else "")
        + "\n"
    )
    return EXIT_OK


def _audit_history(args: argparse.Namespace, out: TextIO) -> int:
    from commands.audit import history

    with _ledger(args, read_only=True) as ledger:
        progress = _progress(ledger, sys.stderr)
        report = history(ledger, args.subject, progress)
    _end_progress(progress)
    r.render(report, args.format, out)
    return EXIT_OK


def _audit_export(args: argparse.Namespace, out: TextIO) -> int:
    from commands.audit import export_pack

    if args.directory.exists() and not args.directory.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(args.directory))
    with _ledger(args, read_only=True) as ledger:
        progress = _progress(ledger, sys.stderr)
        try:
            manifest = export_pack(ledger, args.directory, progress)
        except OSError as e:
            if e.filename is not None or isinstance(e, BrokenPipeError):
                raise
            # A write that failed part-way (a full disk, say) names no file: name the folder.
            raise OSError(e.errno, e.strerror or str(e), str(args.directory)) from e
    _end_progress(progress)
    out.write(
        f"audit pack in {args.directory}: {manifest['events']:,} events, "
        f"{len(manifest['files'])} files, head {manifest['head']['hash']}\n"
    )
    return EXIT_OK


def _audit_verify_export(args: argparse.Namespace, out: TextIO) -> int:
    from commands.audit import verify_pack

    # A folder that is not there is a file error (exit 4), not a pack that fails to verify.
    with os.scandir(args.directory):
        pass
    problems = verify_pack(args.directory)
    for problem in problems:
        out.write(problem + "\n")
    if problems:
        out.write(f"audit verify-export: {args.directory} does NOT verify\n")
        return EXIT_REJECTED
    out.write(f"audit verify-export: {args.directory} verifies\n")
    return EXIT_OK


def _explain(args: argparse.Namespace, out: TextIO) -> int:
    from commands.explaining import explain

    with _ledger(args) as ledger:
        ledger.runner.catch_up()
        paragraphs = explain(ledger, args.subject)
    if args.format == "json":
        out.write(r.dumps({"subject": args.subject, "explanation": paragraphs}) + "\n")
    else:
        out.write("\n\n".join(textwrap.fill(p, width=100) for p in paragraphs) + "\n")
    return EXIT_OK


def _create_role(args: argparse.Namespace, out: TextIO) -> int:
    from commands.wiring import create_auditor_role, create_writer_role

    create = create_auditor_role if args.role == "auditor" else create_writer_role
    with _ledger(args) as ledger:
        _require_administrator(ledger, args.acting_identity, f"create the {args.role} role")
        try:
            statements = create(ledger, args.login)
        except ValueError as e:
            raise InvalidInput("invalid-value", str(e)) from None
    out.write(";\n".join(statements) + ";\n")
    return EXIT_OK


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from commands.service.server import serve

    return serve(getattr(args, "db", None), args.host, args.port, args.workers)


def _issue_token(args: argparse.Namespace, out: TextIO) -> int:
    from commands.service.server import issue_token

    return issue_token(
        getattr(args, "db", None),
        args.acting_identity,
        for_identity=args.identity,
        token_id=args.token_id,
        label=args.label,
        out=out,
    )


def _rebuild(args: argparse.Namespace, out: TextIO) -> int:
    with _ledger(args) as ledger:
        _require_administrator(ledger, args.acting_identity, "rebuild the read models")
        started = time.monotonic()
        count = ledger.runner.rebuild(progress=_progress(ledger, sys.stderr))
        seconds = time.monotonic() - started
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    out.write(f"rebuilt every read model from {count:,} events in {seconds:.1f}s\n")
    return EXIT_OK


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    from commands.demo import run_demo

    if args.programme == "qingdao":
        from commands.demo_qingdao import run_qingdao_demo

        return run_qingdao_demo(Path(getattr(args, "db", None) or "voucher-ledger-qingdao.db"), out)
    return run_demo(Path(getattr(args, "db", None) or "voucher-ledger-demo.db"), out)


class _Output:
    """Standard output as the handlers see it: a failed write says that it was this one's."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as e:
            if e.filename is None and not isinstance(e, BrokenPipeError):
                e.filename = "standard output"
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _file_problem(e: OSError) -> str:
    """A file-system error as what it is: the path and the operating system's reason."""
    if e.filename is None:
        return f"file error: {e.strerror or e}"
    where = str(e.filename) + (f" -> {e.filename2}" if e.filename2 is not None else "")
    return f"file error: {where}: {e.strerror or e}"


def _discard_stdout() -> None:
    """Python's recipe for a closed pipe: point stdout at devnull, so that the interpreter's
    last flush of what is still buffered cannot fail again ("Exception ignored ...")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass  # not a real file (e.g. captured by a test): nothing will flush it at exit


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.actor = getattr(args, "actor", None)
    # Who is giving the command is the environment's to say (the operating-system user, the
    # database login), never a flag's: --actor only names on whose behalf an administrator acts.
    args.acting_identity = identity_for(getattr(args, "db", None))
    args.format = getattr(args, "format", None) or "table"
    try:
        return int(args.handler(args, cast(TextIO, _Output(sys.stdout))))
    except PolicyFileError as e:
        sys.stderr.write(f"voucher-ledger: invalid policy file: {e}\n")
        return EXIT_MALFORMED
    except AuthenticationFailed as e:
        # The server refused the login: said at once, naming the user (never the password).
        sys.stderr.write(f"voucher-ledger: {e}\n")
        return EXIT_UNAVAILABLE
    except ReadModelFailed as e:
        # A stored event a read model cannot apply: its page was rolled back whole; the log is
        # intact and still takes commands.
        sys.stderr.write(f"voucher-ledger: read models stopped: {e}\n")
        return EXIT_UNAVAILABLE
    except (PersistenceError, SQLAlchemyError) as e:
        # The database is unreachable or refuses us (the drivers' own errors, an unopenable
        # SQLite file included, arrive as these): say so, without a traceback (and without
        # the password, which never appears in the location or these messages).
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        sys.stderr.write(f"voucher-ledger: the ledger database is unavailable: {first_line}\n")
        return EXIT_UNAVAILABLE
    except InvalidInput as e:
        sys.stderr.write(f"voucher-ledger: invalid input ({e.code}): {e.message}\n")
        return EXIT_MALFORMED
    except Rejected as e:
        sys.stderr.write(f"voucher-ledger: rejected ({e.code}): {e.message}\n")
        return EXIT_REJECTED


def main(argv: Sequence[str] | None = None) -> int:
    output_failed = False
    try:
        try:
            return _main(argv)
        finally:
            # Flushed here, so that a closed pipe shows now and not in the interpreter's last
            # flush (which would print "Exception ignored ... BrokenPipeError").
            try:
                sys.stdout.flush()
            except OSError:
                output_failed = True
                raise
    except BrokenPipeError:
        # The reader (e.g. `head`) stopped reading: not an error of ours.
        _discard_stdout()
        return EXIT_OK
    except OSError as e:
        # A file or folder that could not be read or written (an input file, an export folder,
        # our own output on a full disk) — never "the database is unavailable": the database
        # drivers' errors, an unopenable SQLite file included, are caught above as theirs.
        if output_failed:
            _discard_stdout()
            if e.filename is None:
                e.filename = "standard output"
        sys.stderr.write(f"voucher-ledger: {_file_problem(e)}\n")
        return EXIT_FILE


if __name__ == "__main__":
    sys.exit(main())
