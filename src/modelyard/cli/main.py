"""Entry point of the ``modelyard`` command."""

from __future__ import annotations

import typer

from modelyard import __version__
from modelyard.audit import cli as audit_cli
from modelyard.cli import deployments, governance, models, monitor, projects, runs, serve
from modelyard.cli import score as score_cli
from modelyard.cli.common import friendly_errors
from modelyard.core.settings import get_settings
from modelyard.identity import cli as identity_cli

app = typer.Typer(
    name="modelyard",
    no_args_is_help=True,
    add_completion=False,
    help="Modelyard: experiment tracking, registry, governance, serving and monitoring.",
)
app.add_typer(projects.app, name="projects")
app.add_typer(runs.app, name="runs")
app.add_typer(models.app, name="models")
app.add_typer(governance.app, name="governance")
app.add_typer(deployments.app, name="deployments")
app.add_typer(monitor.app, name="monitor")
app.add_typer(identity_cli.app, name="admin")
app.add_typer(audit_cli.app, name="audit")
app.command("score")(score_cli.score)
app.command("serve")(serve.serve)


@app.command()
@friendly_errors
def server(
    host: str = typer.Option(None, help="Address to listen on (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port (default 8080)."),
    store: str = typer.Option(None, "--store", help="Metadata store: sqlite:///file.db or postgresql://..."),
    artifacts: str = typer.Option(None, "--artifacts", help="Artifact root: a folder or s3://bucket/prefix."),
    auth: bool = typer.Option(
        None, "--auth/--no-auth", help="Require sign-in with API tokens (MODELYARD_AUTH)."
    ),
) -> None:
    """Start the REST API server (OpenAPI at /openapi.json, health at /health)."""
    from modelyard.server.run import serve

    settings = get_settings()
    if auth is not None:
        settings = settings.model_copy(update={"auth": auth})
    serve(
        settings,
        host=host or settings.host,
        port=port or settings.port,
        store_uri=store or settings.resolved_store_uri,
        artifacts_uri=artifacts or settings.resolved_artifacts_uri,
    )


@app.command()
@friendly_errors
def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Start the API server on the results."),
    host: str = typer.Option(None, help="Address for the server (default 127.0.0.1)."),
    port: int = typer.Option(None, help="Port for the server (default 8080)."),
    rows: int = typer.Option(20_000, "--rows", min=1_000, help="Rows of synthetic credit data."),
) -> None:
    """Train a few credit-default models, track them, then serve the results."""
    from modelyard.demo.main import run_demo

    settings = get_settings()
    run_demo(serve=serve, host=host or settings.host, port=port or settings.port, n_rows=rows)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":  # pragma: no cover
    app()
