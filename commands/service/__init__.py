"""``voucher-ledger serve``: the ledger over HTTP (issue 18, ADR 0040).

A way in like the command line and the JSON Lines runner: the same declared commands
(:mod:`commands.envelope`), the same reports (:mod:`commands.report_catalog`), the same role
table; identity from a bearer token (:mod:`commands.service.auth`). :func:`create_app` makes
the ASGI application; the web views of issue 19 mount on it and reuse its authentication
(:func:`commands.service.auth.current_principal`)."""

from commands.service.app import Service, create_app

__all__ = ["Service", "create_app"]
