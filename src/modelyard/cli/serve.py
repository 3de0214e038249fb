"""``modelyard serve``: the online serving process (deployments, or one model straight from the registry)."""

from __future__ import annotations

import typer

from modelyard.cli.common import console, friendly_errors
from modelyard.core.errors import InvalidArgument
from modelyard.core.settings import Settings

DEFAULT_PORT = 8000


@friendly_errors
def serve(
    model: str = typer.Option(
        None, "--model", help="Serve one model (models:/name@alias, models:/name/3, or a model folder)."
    ),
    name: str = typer.Option(None, "--name", help="Deployment name for --model (default: the model's name)."),
    deployment: str = typer.Option(None, "--deployment", help="Serve only this deployment."),
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, help="Port."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes."),
    store: str = typer.Option(
        None,
        "--store",
        envvar="MODELYARD_TRACKING_URI",
        help="Metadata store (sqlite:///..., postgresql://...) or server (http://host:port); "
        "default: the embedded store.",
    ),
    artifacts: str = typer.Option(None, "--artifacts", help="Artifact root of an embedded store."),
    project: str = typer.Option(
        "default", "--project", "-p", help="Project of --model when its URI names none."
    ),
    auth: bool = typer.Option(None, "--auth/--no-auth", help="Require API tokens (MODELYARD_AUTH)."),
    capture: bool = typer.Option(
        True,
        "--capture/--no-capture",
        help="With --model: keep every prediction in the prediction log (deployments set it in their spec).",
    ),
    auth_store: str = typer.Option(
        None, "--auth-store", help="Store to check API tokens in, when --store is a server URL."
    ),
) -> None:
    """Serve deployments over HTTP: POST /v1/deployments/{name}/predict, /ready, /metrics.

    Without --model, hosts every active deployment (or the one --deployment names) and follows
    their changes and alias moves without a restart.
    """
    from modelyard.serving.runtime.server import RuntimeConfig, preflight, run

    if model and deployment:
        raise InvalidArgument(
            "Give either --model (one model) or --deployment (a recorded deployment), not both."
        )
    if name and not model:
        raise InvalidArgument("--name names the deployment made for --model; use it with --model.")
    settings = Settings()
    if auth is not None:
        settings = settings.model_copy(update={"auth": auth})
    config = RuntimeConfig.with_settings(
        settings,
        mode="model" if model else "registry",
        uri=store,
        artifacts_uri=artifacts,
        deployment=deployment,
        model_uri=model,
        name=name,
        project=project,
        auth_store_uri=auth_store,
        capture=capture,
    )
    from modelyard.server.run import check_bind_address

    check_bind_address(host, auth=settings.auth)
    served = preflight(config)
    for line in served:
        console.print(f"Serving {line}", highlight=False)
    if not served:
        console.print("No active deployments yet: serving them as they appear.", highlight=False)
    console.print(
        f"Listening on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}): "
        "POST /v1/deployments/<name>/predict, GET /ready, GET /metrics",
        highlight=False,
    )
    run(config, host=host, port=port, workers=workers)
