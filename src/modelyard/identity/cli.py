"""``modelyard admin``: manage users and API tokens directly on a store.

These commands open the metadata store themselves (no server, no sign-in): whoever can
run them on the store's host already holds its credentials. That is how the first
administrator is made without any default password.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from modelyard.cli.common import console, friendly_errors
from modelyard.cli.runs import human_time
from modelyard.core.errors import InvalidArgument
from modelyard.core.settings import get_settings
from modelyard.core.store import Store
from modelyard.identity.schemas import ApiToken
from modelyard.identity.service import IdentityService

app = typer.Typer(name="admin", no_args_is_help=True, help="Manage users and API tokens on a store.")

STORE_OPTION = typer.Option(
    None,
    "--store",
    help="Metadata store: sqlite:///file.db or postgresql://... Default: the configured store.",
)
CREATED_BY = "admin-cli"


@contextmanager
def _identity(store_uri: str | None) -> Iterator[IdentityService]:
    settings = get_settings()
    store = Store.open(store_uri or settings.resolved_store_uri, settings.resolved_artifacts_uri)
    try:
        yield IdentityService(store.db)
    finally:
        store.close()


def _show_token(token: ApiToken, full: str) -> None:
    expires = "never expires" if token.expires_at is None else f"expires {_human_date(token.expires_at)}"
    console.print(f"API token [bold]{token.id}[/] ({escape(repr(token.name))}, {expires}):", highlight=False)
    console.print(full, highlight=False, soft_wrap=True, markup=False)
    console.print("It will not be shown again: store it now. Use it with:", highlight=False)
    console.print(f"  export MODELYARD_TOKEN={full}", highlight=False, soft_wrap=True, markup=False)


def _human_date(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@app.command("create-user")
@friendly_errors
def create_user(
    name: str = typer.Argument(..., help="User name: lower-case letters, digits and . _ -"),
    admin: bool = typer.Option(False, "--admin", help="Make the user an administrator."),
    auditor: bool = typer.Option(False, "--auditor", help="Let the user read everything, change nothing."),
    service: bool = typer.Option(False, "--service", help="A service account: API tokens, no password."),
    password_prompt: bool = typer.Option(
        False, "--password-prompt", help="Ask for a password (for signing in to the web UI)."
    ),
    store: str = STORE_OPTION,
) -> None:
    """Create a user and print its first API token (shown only once)."""
    password = None
    if password_prompt:
        if service:
            raise InvalidArgument("Service accounts sign in with API tokens only: drop --password-prompt.")
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _identity(store) as svc:
        user = svc.create_user(
            name,
            password=password,
            kind="service" if service else "user",
            is_admin=admin,
            is_auditor=auditor,
            created_by=CREATED_BY,
        )
        token, full = svc.issue_token(user.name, name="first token")
    roles = ", ".join(r for r, on in (("admin", user.is_admin), ("auditor", user.is_auditor)) if on)
    console.print(
        f"Created {user.kind} [bold]{user.name}[/]" + (f" ({roles})" if roles else "") + ".", highlight=False
    )
    _show_token(token, full)


@app.command("issue-token")
@friendly_errors
def issue_token(
    name: str = typer.Argument(..., help="The user (name or id) the token acts as."),
    token_name: str = typer.Option("cli", "--name", help="A label to recognise the token by."),
    days: int = typer.Option(90, "--days", min=0, help="Days until it expires; 0 for never."),
    store: str = STORE_OPTION,
) -> None:
    """Issue an API token for a user and print it (shown only once)."""
    with _identity(store) as svc:
        token, full = svc.issue_token(name, name=token_name, expires_in_days=days or None)
    _show_token(token, full)


@app.command("revoke-token")
@friendly_errors
def revoke_token(
    token_id: str = typer.Argument(..., metavar="ID", help="The token's id (the part after 'myd_')."),
    store: str = STORE_OPTION,
) -> None:
    """Revoke an API token at once."""
    with _identity(store) as svc:
        token = svc.revoke_token(token_id)
    console.print(f"Revoked API token [bold]{token.id}[/] ({escape(repr(token.name))}).", highlight=False)


@app.command("list-users")
@friendly_errors
def list_users(store: str = STORE_OPTION) -> None:
    """Users and service accounts, with their roles and status."""
    with _identity(store) as svc:
        users = svc.list_users()
    if not users:
        console.print("No users yet: create one with [bold]modelyard admin create-user NAME --admin[/].")
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for column in ("name", "kind", "roles", "status", "password", "created", "created by"):
        table.add_column(column, no_wrap=column != "created by")
    for u in users:
        roles = ", ".join(r for r, on in (("admin", u.is_admin), ("auditor", u.is_auditor)) if on) or "-"
        table.add_row(
            u.name,
            u.kind,
            roles,
            "active" if u.active else "deactivated",
            "yes" if u.has_password else "no",
            human_time(u.created_at),
            u.created_by or "-",
        )
    console.print(table)
