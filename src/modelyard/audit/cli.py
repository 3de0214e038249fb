"""``modelyard audit``: verify the audit trail's hash chain, export it for a regulator."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy import inspect

from modelyard.audit.chain import export_audit, verify_chain
from modelyard.audit.tables import audit_log
from modelyard.cli.common import friendly_errors
from modelyard.core.errors import NotFound
from modelyard.core.settings import get_settings
from modelyard.core.store import Store

app = typer.Typer(
    name="audit", no_args_is_help=True, help="Verify and export the tamper-evident audit trail."
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

STORE_OPTION = typer.Option(
    None, "--store", help="Metadata store: sqlite:///file.db or postgresql://... (default: the settings')."
)


class Format(StrEnum):
    """Export file formats."""

    jsonl = "jsonl"
    csv = "csv"


def parse_since(value: str) -> int:
    """An ISO date or date-time as ms since the epoch; a time without an offset is UTC."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date or date-time: try 2024-05-01 or 2024-05-01T09:30:00+02:00."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _open_store(uri: str | None) -> Store:
    settings = get_settings()
    store = Store.open(uri or settings.resolved_store_uri, settings.resolved_artifacts_uri)
    if not inspect(store.db.engine).has_table(audit_log.name):
        store.close()
        raise NotFound(
            "This store has no audit trail (no audit_log table): upgrade Modelyard, then try again."
        )
    return store


@app.command()
@friendly_errors
def verify(store: str = STORE_OPTION) -> None:
    """Recompute the hash chain; exit 0 when intact, 1 naming the first bad record."""
    opened = _open_store(store)
    try:
        result = verify_chain(opened.db)
    finally:
        opened.close()
    if not result.ok:
        console.print(f"[bold red]Audit trail broken:[/] [red]{result.problem}[/]", soft_wrap=True)
        raise typer.Exit(1)
    console.print(f"[green]Audit trail intact: {result.records} records[/]", soft_wrap=True)
    if result.last_hash:
        console.print(
            f"[dim]Last hash {result.last_hash}: keep a copy outside the database to prove "
            "the trail is not rewritten later.[/]",
            soft_wrap=True,
        )


@app.command()
@friendly_errors
def export(
    since: str = typer.Option(None, "--since", help="Only records from this ISO date or date-time (UTC)."),
    fmt: Format = typer.Option(Format.jsonl, "--format", help="jsonl or csv."),
    out: Path = typer.Option(None, "--out", help="File to write (default: standard output)."),
    store: str = STORE_OPTION,
) -> None:
    """Export records with all columns and hashes, so they can be re-verified elsewhere."""
    since_ms = parse_since(since) if since else None
    opened = _open_store(store)
    try:
        if out is None:
            count = export_audit(opened.db, since_ms=since_ms, fmt=fmt.value, out=sys.stdout)
        else:
            with out.open("w", encoding="utf-8", newline="") as f:
                count = export_audit(opened.db, since_ms=since_ms, fmt=fmt.value, out=f)
    finally:
        opened.close()
    where = f" to {out}" if out is not None else ""
    err_console.print(f"Exported {count} audit records{where}.", soft_wrap=True)
