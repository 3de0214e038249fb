"""``modelyard deployments``: create, change, roll back and inspect deployments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich import box
from rich.table import Table

from modelyard.cli.common import URI_OPTION, console, friendly_errors, make_client
from modelyard.core.errors import InvalidArgument
from modelyard.serving.schemas import Deployment

app = typer.Typer(name="deployments", no_args_is_help=True, help="Deploy models and manage their traffic.")
PROJECT = typer.Option("default", "--project", "-p", help="Project whose models the deployment serves.")
SPEC = typer.Option(
    None,
    "--spec",
    exists=True,
    dir_okay=False,
    help="YAML or JSON file with spec fields (variants, canary, humility, capture, ...).",
)
SHADOW = typer.Option(None, "--shadow", help="NAME=models:/... scoring the same traffic, never answering.")
AB = typer.Option(None, "--ab", help="NAME=models:/...:PERCENT answering that share of traffic.")


def _spec_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{str(path)!r} is not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{str(path)!r} must hold a mapping of spec fields.")
    return data


def _variants(shadows: list[str] | None, arms: list[str] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in shadows or []:
        name, sep, uri = item.partition("=")
        if not sep or not uri:
            raise InvalidArgument(f"--shadow {item!r}: use NAME=models:/<model>@<alias>.")
        out.append({"name": name, "model_uri": uri, "mode": "shadow"})
    for item in arms or []:
        name, sep, rest = item.partition("=")
        uri, _, weight = rest.rpartition(":")
        try:
            share = float(weight)
        except ValueError:
            share = -1.0
        if not sep or not uri or share <= 0:
            raise InvalidArgument(f"--ab {item!r}: use NAME=models:/<model>/<version>:PERCENT.")
        out.append({"name": name, "model_uri": uri, "mode": "ab", "weight": share})
    return out


def _show(d: Deployment) -> None:
    console.print(f"[bold]{d.name}[/] (project {d.project}, revision {d.revision})", highlight=False)
    console.print(yaml.safe_dump(d.spec().model_dump(mode="json"), sort_keys=False).rstrip(), highlight=False)


@app.command("create")
@friendly_errors
def create(
    name: str,
    model: str = typer.Option(
        ..., "--model", "-m", help="models:/<name>@<alias> or models:/<name>/<version>."
    ),
    project: str = PROJECT,
    production: bool = typer.Option(False, "--production", help="Answer only from governed models."),
    workers: int = typer.Option(1, "--workers", min=1, help="Serving worker processes."),
    shadow: list[str] | None = SHADOW,
    ab: list[str] | None = AB,
    spec: Path | None = SPEC,
    uri: str | None = URI_OPTION,
) -> None:
    """Deploy a registered model; serve it with `modelyard serve`."""
    fields = _spec_file(spec)
    fields.setdefault("production", production)
    fields.setdefault("workers", workers)
    if shadow or ab:
        fields["variants"] = [*fields.get("variants", []), *_variants(shadow, ab)]
    d = make_client(uri).create_deployment(name, model, project=project, **fields)
    console.print(
        f"Deployment [bold]{d.name}[/] created: POST /v1/deployments/{d.name}/predict", highlight=False
    )
    _show(d)


@app.command("update")
@friendly_errors
def update_deployment(
    name: str,
    model: str | None = typer.Option(None, "--model", "-m", help="New primary model URI."),
    canary: str | None = typer.Option(None, "--canary", help="Roll out this model URI in steps."),
    shadow: list[str] | None = SHADOW,
    ab: list[str] | None = AB,
    clear_variants: bool = typer.Option(False, "--clear-variants", help="Drop every shadow and A/B arm."),
    spec: Path | None = SPEC,
    reason: str = typer.Option("", "--reason", help="Why (kept with the revision)."),
    uri: str | None = URI_OPTION,
) -> None:
    """Change a deployment; the serving process follows without a restart."""
    client = make_client(uri)
    changes = _spec_file(spec)
    if model:
        changes["model_uri"] = model
    if canary:
        changes["canary"] = {"model_uri": canary}
    if clear_variants or shadow or ab:
        kept = [] if clear_variants else [v.model_dump() for v in client.get_deployment(name).variants]
        changes["variants"] = kept + _variants(shadow, ab)
    if not changes:
        raise InvalidArgument("Nothing to change: give --model, --canary, --shadow, --ab or --spec.")
    _show(client.update_deployment(name, reason=reason, **changes))


@app.command("rollback")
@friendly_errors
def rollback(
    name: str,
    revision: int | None = typer.Option(None, "--revision", help="Default: the previous revision."),
    reason: str = typer.Option("", "--reason"),
    uri: str | None = URI_OPTION,
) -> None:
    """Return to an earlier revision of the deployment."""
    _show(make_client(uri).rollback_deployment(name, revision, reason=reason))


@app.command("delete")
@friendly_errors
def delete(name: str, uri: str | None = URI_OPTION) -> None:
    """Stop serving a deployment (its history stays)."""
    make_client(uri).delete_deployment(name)
    console.print(f"Deployment [bold]{name}[/] deleted.", highlight=False)


@app.command("list")
@friendly_errors
def list_deployments(
    project: str | None = typer.Option(None, "--project", "-p", help="Only this project."),
    uri: str | None = URI_OPTION,
) -> None:
    """Active deployments."""
    table = Table(box=box.SIMPLE_HEAD, title="Deployments")
    for col in ("name", "project", "model", "production", "variants", "canary", "rev"):
        table.add_column(col)
    for d in make_client(uri).list_deployments(project):
        canary = f"{d.canary.model_uri} ({d.canary.state}, {d.canary.weight:g}%)" if d.canary else "-"
        variants = ", ".join(f"{v.name}:{v.mode}" for v in d.variants) or "-"
        table.add_row(
            d.name, d.project, d.model_uri, "yes" if d.production else "no", variants, canary, str(d.revision)
        )
    console.print(table)


@app.command("show")
@friendly_errors
def show(name: str, uri: str | None = URI_OPTION) -> None:
    """A deployment's spec."""
    _show(make_client(uri).get_deployment(name))


@app.command("history")
@friendly_errors
def history(name: str, uri: str | None = URI_OPTION) -> None:
    """Every revision of a deployment, with who changed it and why."""
    table = Table(box=box.SIMPLE_HEAD, title=f"{name} revisions")
    for col in ("rev", "model", "variants", "by", "reason"):
        table.add_column(col)
    for r in make_client(uri).deployment_history(name):
        variants = ", ".join(f"{v['name']}:{v['mode']}" for v in r.spec.get("variants", [])) or "-"
        table.add_row(str(r.revision), r.spec.get("model_uri", ""), variants, r.actor or "-", r.reason or "-")
    console.print(table)


@app.command("export")
@friendly_errors
def export(
    name: str,
    folder: Path = typer.Option(..., "--dir", help="A new (or empty) folder for the build context."),
    uri: str | None = URI_OPTION,
) -> None:
    """Write a self-contained build context: Dockerfile, pinned requirements, models, entry point."""
    from modelyard.serving.export import export_deployment

    out = export_deployment(make_client(uri), name, folder)
    console.print(
        f"Build context for [bold]{name}[/] written to {out}.\n"
        f"  docker build -t modelyard-{name} {out}\n"
        f"  or: python -m venv .venv && .venv/bin/pip install -r {out}/requirements.txt && "
        f".venv/bin/python {out}/serve.py --port 8000",
        highlight=False,
    )


@app.command("replay")
@friendly_errors
def replay(
    name: str,
    model: str = typer.Option(
        ..., "--model", "-m", help="The challenger: models:/<name>/<version> or @alias."
    ),
    window: str = typer.Option("24h", "--window", help="How far back to replay: '6h', '7d', ..."),
    uri: str | None = URI_OPTION,
) -> None:
    """Score stored production traffic with a challenger, then compare every variant on the actuals.

    Reads and writes the prediction log this machine sees (MODELYARD_PREDICTIONS_URI).
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from modelyard.models import load as load_model_folder
    from modelyard.monitoring.schemas import parse_window
    from modelyard.serving import predlog

    try:
        kind, span = parse_window(window)
    except ValueError as exc:
        raise InvalidArgument(str(exc)) from None
    if kind != "ms":
        raise InvalidArgument("Replay takes a time window ('24h', '7d'), not a row count.")
    client = make_client(uri)
    deployment = client.get_deployment(name)
    # One registry lookup for both the label and the model (as Client.load_model loads it).
    folder, version = client.download_model(model, project=deployment.project)
    loaded = load_model_folder(folder, trust=version.trusted)
    root = client.settings.resolved_predictions_uri
    until = int(time.time() * 1000)
    since = until - span
    with Progress(
        *Progress.get_default_columns()[:1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task(f"Replaying {name} through {version.model_name} v{version.version}", total=None)
        done = predlog.replay(
            root=root,
            deployment=name,
            loaded_model=loaded,
            model_name=version.model_name,
            version=version.version,
            since_ms=since,
            until_ms=until,
            progress=lambda rows, total: bar.update(task, completed=rows, total=total),
        )
    console.print(
        f"Scored {done['rows']:,} stored rows as variant [bold]{done['variant']}[/] "
        f"({done['skipped']:,} already replayed).",
        highlight=False,
    )
    found = predlog.compare_variants(root, name, since, until)
    table = Table(box=box.SIMPLE_HEAD, title=f"{name}: variants over the last {window} ({found['task']})")
    metric = "accuracy" if found["task"] == "classification" else "mae"
    for col in ("variant", "rows", "with actuals", metric):
        table.add_column(col)
    for variant, v in found["variants"].items():
        value = v.get(metric)
        table.add_row(
            variant, f"{v['rows']:,}", f"{v['with_actuals']:,}", "-" if value is None else f"{value:.4f}"
        )
    console.print(table)
