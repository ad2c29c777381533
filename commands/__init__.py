"""The ways in: command specs and handlers, the ``voucher-ledger`` CLI, the JSON Lines batch
runner and the demo. Configuration (database URL, actor) is read here and nowhere else."""
