"""``modelyard governance``: promotion requests, reviews and risk-tier policies."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table

from modelyard.cli.common import URI_OPTION, console, friendly_errors, make_client
from modelyard.governance.schemas import PromotionRequest

app = typer.Typer(
    name="governance",
    no_args_is_help=True,
    help="Request, review and audit promotions onto protected aliases.",
)
PROJECT = typer.Option("default", "--project", "-p", help="Project the model belongs to.")
STATUS_STYLES = {"pending": "yellow", "applied": "green", "rejected": "red", "expired": "dim"}


def show_request(req: PromotionRequest) -> None:
    """Print a request, its evidence and its reviews."""
    style = STATUS_STYLES.get(req.status, "")
    console.print(
        f"Promotion [bold]{req.id}[/]: {req.model_name} v{req.version} → @{req.alias} "
        f"({req.tier} risk) is [{style}]{req.status}[/]" + (f": {req.outcome}" if req.outcome else "")
    )
    console.print(
        f"  requested by {req.requested_by}; approvals {req.approvals}/{req.approvals_needed}"
        + (f"; reason: {req.reason}" if req.reason else "")
    )
    for e in req.evidence:
        mark = "[green]✓[/]" if e["passed"] else "[red]✗[/]"
        console.print(f"  {mark} {e['kind']} {e['rule']}: {e['detail']}")
    for r in req.reviews:
        console.print(f"  {r.decision}d by {r.reviewer} ({r.role})" + (f": {r.comment}" if r.comment else ""))


@app.command("request")
@friendly_errors
def request(
    model: str,
    version: int,
    alias: str,
    project: str = PROJECT,
    reason: str = typer.Option("", help="Why this version should be promoted."),
    uri: str | None = URI_OPTION,
) -> None:
    """Ask for a protected alias (champion, production, ...) to move to a version."""
    show_request(make_client(uri).request_promotion(model, version, alias, project=project, reason=reason))


@app.command("approve")
@friendly_errors
def approve(
    request_id: str,
    comment: str = typer.Option("", help="Your review comment."),
    uri: str | None = URI_OPTION,
) -> None:
    """Approve a request; the alias moves once the policy is satisfied."""
    show_request(make_client(uri).approve_promotion(request_id, comment))


@app.command("reject")
@friendly_errors
def reject(
    request_id: str,
    comment: str = typer.Option(..., help="Why it is rejected (recorded)."),
    uri: str | None = URI_OPTION,
) -> None:
    """Reject a request."""
    show_request(make_client(uri).reject_promotion(request_id, comment))


@app.command("show")
@friendly_errors
def show(request_id: str, uri: str | None = URI_OPTION) -> None:
    """One request with its evidence and reviews."""
    show_request(make_client(uri).get_promotion(request_id))


@app.command("list")
@friendly_errors
def list_requests(
    project: str = PROJECT,
    status: str | None = typer.Option(None, help="pending, applied, ..."),
    uri: str | None = URI_OPTION,
) -> None:
    """A project's promotion requests."""
    from modelyard.cli.runs import human_time

    table = Table(box=box.SIMPLE_HEAD, title=f"Promotions in {project}")
    for col in ("id", "model", "alias", "tier", "status", "approvals", "requested by", "when"):
        table.add_column(col)
    for r in make_client(uri).list_promotions(project=project, status=status):
        table.add_row(
            r.id[:8],
            f"{r.model_name} v{r.version}",
            r.alias,
            r.tier,
            f"[{STATUS_STYLES.get(r.status, '')}]{r.status}[/]",
            f"{r.approvals}/{r.approvals_needed}",
            r.requested_by,
            human_time(r.created_at),
        )
    console.print(table)


@app.command("policy")
@friendly_errors
def policy(
    set_from: Path | None = typer.Option(None, "--set", help="Replace tiers from this YAML file (admins)."),
    uri: str | None = URI_OPTION,
) -> None:
    """Show the promotion policy of every risk tier, or replace some with --set FILE."""
    client = make_client(uri)
    text = client.set_policies(set_from.read_text()) if set_from else client.get_policies()
    console.print(text, markup=False, highlight=False)
