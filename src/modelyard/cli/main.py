"""Entry point of the ``modelyard`` command."""

from __future__ import annotations

import typer

from modelyard import __version__
from modelyard.cli.common import friendly_errors
from modelyard.core.settings import get_settings

app = typer.Typer(
    name="modelyard",
    no_args_is_help=True,
    add_completion=False,
    help="Modelyard: experiment tracking, registry, governance, serving and monitoring.",
)


@app.command()
@friendly_errors
def server(
    host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8080)."),
    store: str = typer.Option(None, "--store", help="Metadata store: sqlite:///file.db or postgresql://..."),
    artifacts: str = typer.Option(None, "--artifacts", help="Artifact root: a folder or s3://bucket/prefix."),
) -> None:
    """Start the REST API server (OpenAPI at /openapi.json, health at /health)."""
    from modelyard.server.run import serve

    settings = get_settings()
    serve(
        settings,
        host=host or settings.host,
        port=port or settings.port,
        store_uri=store or settings.resolved_store_uri,
        artifacts_uri=artifacts or settings.resolved_artifacts_uri,
    )


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
