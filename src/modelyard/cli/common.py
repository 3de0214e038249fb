"""What every CLI command shares: the console, the client, and error reporting."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from modelyard.client.client import Client
from modelyard.core.errors import ModelyardError
from modelyard.core.settings import Settings

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

URI_OPTION = typer.Option(
    None,
    "--uri",
    envvar="MODELYARD_TRACKING_URI",
    show_envvar=True,
    help="Server (http://host:port) or store URI (sqlite:///..., postgresql://...). "
    "Default: the embedded store.",
)


def make_client(uri: str | None) -> Client:
    """A client for the CLI's ``--uri``, with settings read now (MODELYARD_TOKEN and friends)."""
    return Client(uri, settings=Settings())


def friendly_errors(fn: F) -> F:
    """Print domain errors as one readable line and exit 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ModelyardError as exc:
            err_console.print(f"[bold red]Error:[/] {exc.message}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]
