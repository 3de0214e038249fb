"""``modelyard monitor``: run monitors, read their history and health, manage alert rules, write reports.

Exit codes, for scripts and schedulers: 0 when the command worked; 1 on an error (unknown
deployment, bad input, a monitor run that could not read its data); 2 when ``run`` or ``health``
finds the health that ``--fail-on`` names (red by default), so ``modelyard monitor run credit ||
page-someone`` works as is.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
import yaml
from rich import box
from rich.markup import escape
from rich.table import Table

from modelyard.cli.common import URI_OPTION, console, err_console, friendly_errors, make_client
from modelyard.cli.runs import human_time, local_time
from modelyard.client.client import Client
from modelyard.core.errors import InvalidArgument
from modelyard.monitoring.schemas import Check, DeploymentHealth, MonitorRun, parse_window

EXIT_HELP = "Exit code 0 when it worked, 1 on an error, 2 when the health reaches --fail-on (default red)."
app = typer.Typer(
    name="monitor",
    no_args_is_help=True,
    help="Monitor deployments: drift, accuracy, data quality, fairness, latency; alerts and reports. "
    + EXIT_HELP,
)
rules_app = typer.Typer(
    name="alert-rule", no_args_is_help=True, help="Alert when a monitor value meets a condition."
)
app.add_typer(rules_app, name="alert-rule")

COLORS = {"green": "green", "yellow": "yellow", "red": "red", "failed": "red", "unknown": "dim"}
STATUS = {"ok": "green", "warn": "yellow", "fail": "red", "skipped": "dim"}
RANK = {"unknown": 0, "green": 0, "yellow": 1, "red": 2, "failed": 2}
JSON_OPTION = typer.Option(False, "--json", help="Print JSON (for scripts) instead of tables.")


class FailOn(StrEnum):
    """Which health makes ``run`` and ``health`` exit with code 2."""

    red = "red"
    yellow = "yellow"
    never = "never"


FAIL_ON = typer.Option(FailOn.red, "--fail-on", help="Exit 2 at this health or worse (never: always exit 0).")


def _badge(health: str) -> str:
    return f"[bold {COLORS.get(health, 'white')}]{health.upper()}[/]"


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _exit_for(health: str, fail_on: FailOn) -> None:
    if fail_on is not FailOn.never and RANK.get(health, 0) >= RANK[fail_on.value]:
        raise typer.Exit(2)


def _checks_table(checks: list[Check], title: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=title)
    for col in ("status", "check", "name", "value", "threshold", "detail"):
        table.add_column(col, justify="right" if col in ("value", "threshold") else "left")
    for c in checks:
        table.add_row(
            f"[{STATUS[c.status]}]{c.status}[/]",
            c.check,
            escape(c.name),
            _num(c.value),
            _num(c.threshold),
            escape(c.detail),
        )
    return table


def _spec_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"{str(path)!r} is not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{str(path)!r} must hold a mapping of monitor settings.")
    return data


def _known(client: Client, deployment: str, found: bool) -> None:
    """Nothing found: say so plainly when the deployment does not exist (its history may outlive it)."""
    if not found:
        client.get_deployment(deployment)  # raises NotFound with the usual sentence


# -------------------------------------------------------------- monitors
@app.command("run")
@friendly_errors
def run(
    deployment: str,
    monitor: str = typer.Option(
        "default", "--monitor", "-m", help="Monitor to run (default is made on first use)."
    ),
    window: str | None = typer.Option(
        None, "--window", "-w", help="Override the window: 30m, 24h, 7d, '50000 rows'."
    ),
    fail_on: FailOn = FAIL_ON,
    as_json: bool = JSON_OPTION,
    uri: str | None = URI_OPTION,
) -> None:
    """Run a monitor now over its window and print what it found.

    Exit code 0 when green, yellow or unknown; 2 when red (see --fail-on); 1 when the
    monitor could not run (the reason is printed and kept in its history).
    """
    if window is not None:
        try:
            parse_window(window)
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from None
    quiet = logging.NullHandler()  # a run that fails logs its traceback; here its reason is printed below
    logging.getLogger("modelyard.monitoring").addHandler(quiet)
    try:
        r = make_client(uri).run_monitor(deployment, monitor, window=window)
    finally:
        logging.getLogger("modelyard.monitoring").removeHandler(quiet)
    if as_json:
        typer.echo(r.model_dump_json())
    else:
        _show_run(r)
    if r.health == "failed":
        if as_json:
            err_console.print(
                f"[bold red]Error:[/] {escape(str(r.result.get('error', '')))}", highlight=False
            )
        raise typer.Exit(1)
    _exit_for(r.health, fail_on)


def _show_run(r: MonitorRun) -> None:
    model = f"{r.result.get('model', '?')} v{r.result.get('version', '?')}"
    console.print(
        f"{escape(r.deployment)} / {escape(r.monitor)}: {_badge(r.health)}  "
        f"{r.rows} rows, window {escape(str(r.result.get('window', '')))}, model {escape(model)}",
        highlight=False,
    )
    if r.health == "failed":
        err_console.print(
            f"[bold red]Error:[/] the monitor run failed: {escape(str(r.result.get('error', '')))}",
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(
        _checks_table(r.checks, f"Checks ({local_time(r.window_start)} to {local_time(r.window_end)})")
    )


@app.command("create")
@friendly_errors
def create(
    deployment: str,
    name: str = typer.Option("default", "--name", "-n", help="Monitor name (lower-case, digits, - or _)."),
    window: str | None = typer.Option(None, "--window", "-w", help="30m, 24h (default), 7d or '50000 rows'."),
    schedule: str | None = typer.Option(None, "--schedule", help="Cron, e.g. '0 * * * *': run by itself."),
    spec: Path | None = typer.Option(
        None,
        "--spec",
        exists=True,
        dir_okay=False,
        help="YAML or JSON with monitor settings (drift, performance, quality, fairness, service, min_rows).",
    ),
    uri: str | None = URI_OPTION,
) -> None:
    """Add a monitor to a deployment; options override the spec file."""
    fields: dict[str, Any] = _spec_file(spec)
    if window is not None:
        fields["window"] = window
    if schedule is not None:
        fields["schedule"] = schedule
    m = make_client(uri).create_monitor(deployment, name, **fields)
    when = (
        f", next run {local_time(m.next_run_at)}"
        if m.next_run_at
        else "; run it with `modelyard monitor run`"
    )
    console.print(
        f"Monitor [bold]{escape(m.name)}[/] on {escape(deployment)} created: window {m.window}"
        f"{', schedule ' + escape(m.schedule) if m.schedule else ''}{when}.",
        highlight=False,
    )


@app.command("list")
@friendly_errors
def list_monitors(deployment: str, as_json: bool = JSON_OPTION, uri: str | None = URI_OPTION) -> None:
    """A deployment's monitors, with the health of each one's latest run."""
    client = make_client(uri)
    monitors = client.list_monitors(deployment)
    _known(client, deployment, bool(monitors))
    if as_json:
        typer.echo(json.dumps([m.model_dump(mode="json") for m in monitors]))
        return
    health = client.deployment_health(deployment).monitors
    table = Table(box=box.SIMPLE_HEAD, title=f"Monitors of {deployment}")
    for col in ("name", "health", "window", "schedule", "next run", "checks", "min rows"):
        table.add_column(col)
    for m in monitors:
        on = [k for k in ("drift", "performance", "quality", "service") if getattr(m, k).enabled]
        on += ["fairness"] if m.fairness.attributes else []
        table.add_row(
            escape(m.name),
            _badge(health.get(m.name, "unknown")),
            m.window,
            m.schedule or "-",
            local_time(m.next_run_at),
            ", ".join(on),
            str(m.min_rows),
        )
    console.print(table)
    if not monitors:
        console.print("No monitors yet: `modelyard monitor run` makes a default one.", highlight=False)


@app.command("delete")
@friendly_errors
def delete(deployment: str, name: str, uri: str | None = URI_OPTION) -> None:
    """Remove a monitor and its history."""
    make_client(uri).delete_monitor(deployment, name)
    console.print(f"Monitor [bold]{escape(name)}[/] on {escape(deployment)} deleted.", highlight=False)


@app.command("history")
@friendly_errors
def history(
    deployment: str,
    monitor: str | None = typer.Option(None, "--monitor", "-m", help="Only this monitor's runs."),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=10_000, help="Most recent runs to show."),
    as_json: bool = JSON_OPTION,
    uri: str | None = URI_OPTION,
) -> None:
    """Recent monitor runs, newest first."""
    client = make_client(uri)
    runs = client.monitor_runs(deployment, monitor=monitor, limit=limit)
    _known(client, deployment, bool(runs))
    if as_json:
        for r in runs:
            typer.echo(r.model_dump_json())
        return
    table = Table(box=box.SIMPLE_HEAD, title=f"Monitor runs of {deployment}")
    for col in ("started", "monitor", "health", "rows", "window", "trigger", "drifted", "fail/warn", "note"):
        table.add_column(col, justify="right" if col in ("rows", "fail/warn") else "left")
    for r in runs:
        ds = (r.result.get("drift") or {}).get("dataset") or {}
        checks = r.checks
        table.add_row(
            human_time(r.started_at),
            escape(r.monitor),
            _badge(r.health),
            str(r.rows),
            escape(str(r.result.get("window", ""))),
            r.trigger,
            f"{ds['n_drifted']}/{ds['n_features']}" if ds else "-",
            f"{sum(c.status == 'fail' for c in checks)}/{sum(c.status == 'warn' for c in checks)}",
            escape(str(r.result.get("error") or "")),
        )
    console.print(table)


@app.command("health")
@friendly_errors
def health(
    deployment: str, fail_on: FailOn = FAIL_ON, as_json: bool = JSON_OPTION, uri: str | None = URI_OPTION
) -> None:
    """Green, yellow or red: the worst of each monitor's latest run, and the firing alerts.

    Exit code 0 when green, yellow or unknown; 2 when red (see --fail-on); 1 on an error.
    """
    client = make_client(uri)
    h: DeploymentHealth = client.deployment_health(deployment)
    _known(client, deployment, bool(h.monitors))
    if as_json:
        typer.echo(h.model_dump_json())
    else:
        when = human_time(h.checked_at) if h.checked_at else "never checked"
        console.print(
            f"{escape(deployment)}: {_badge(h.health)}  ({when}; {h.firing_alerts} firing alert(s))",
            highlight=False,
        )
        for name, state in sorted(h.monitors.items()):
            console.print(f"  {escape(name)}: {_badge(state)}", highlight=False)
    _exit_for(h.health, fail_on)


@app.command("report")
@friendly_errors
def report(
    deployment: str,
    html: Path = typer.Option(
        ..., "--html", dir_okay=False, writable=True, help="Where to write the HTML page."
    ),
    limit: int = typer.Option(200, "--limit", "-n", min=1, max=5_000, help="Most recent runs to include."),
    monitor: str | None = typer.Option(None, "--monitor", "-m", help="Only this monitor's runs."),
    uri: str | None = URI_OPTION,
) -> None:
    """Write a self-contained HTML report (charts of drift, accuracy, latency; latest checks)."""
    from modelyard.monitoring.report import render_report

    client = make_client(uri)
    runs = client.monitor_runs(deployment, monitor=monitor, limit=limit)
    _known(client, deployment, bool(runs))
    h = client.deployment_health(deployment)
    html.write_text(render_report(deployment, runs, h), encoding="utf-8")
    console.print(
        f"Report on {escape(deployment)} ({_badge(h.health)}, {len(runs)} run(s)) "
        f"written to {escape(str(html))}",
        highlight=False,
    )


@app.command("alerts")
@friendly_errors
def alerts(
    deployment: str,
    state: str | None = typer.Option(None, "--state", help="firing or resolved (default: both)."),
    as_json: bool = JSON_OPTION,
    uri: str | None = URI_OPTION,
) -> None:
    """A deployment's alerts, newest first."""
    client = make_client(uri)
    found = client.list_alerts(deployment, state=state)
    _known(client, deployment, bool(found))
    if as_json:
        typer.echo(json.dumps([a.model_dump(mode="json") for a in found]))
        return
    table = Table(box=box.SIMPLE_HEAD, title=f"Alerts on {deployment}")
    for col in ("fired", "rule", "severity", "state", "value", "times", "message", "resolved"):
        table.add_column(col, justify="right" if col in ("value", "times") else "left")
    for a in found:
        color = "red" if a.state == "firing" else "green"
        table.add_row(
            human_time(a.fired_at),
            escape(a.rule),
            a.severity,
            f"[{color}]{a.state}[/]",
            _num(a.value) if isinstance(a.value, int | float) else escape(str(a.value)),
            str(a.count),
            escape(a.message),
            human_time(a.resolved_at) if a.resolved_at else "-",
        )
    console.print(table)


# ----------------------------------------------------------- alert rules
@rules_app.command("add")
@friendly_errors
def add_rule(
    deployment: str,
    name: str,
    when: str = typer.Option(
        ..., "--when", help="A value, a comparison and a number: 'drift.share >= 0.5', 'health >= 2' (red)."
    ),
    severity: str = typer.Option("warning", "--severity", help="info, warning or critical."),
    email: list[str] | None = typer.Option(None, "--email", help="Mail this address (repeat for more)."),
    uri: str | None = URI_OPTION,
) -> None:
    """Alert when a monitor run's value meets a condition (one alert while it holds)."""
    r = make_client(uri).create_alert_rule(deployment, name, when, severity=severity, email=email or [])
    console.print(
        f"Alert rule [bold]{escape(r.name)}[/] on {escape(deployment)}: "
        f"{escape(r.condition)} ({r.severity}).",
        highlight=False,
    )


@rules_app.command("list")
@friendly_errors
def list_rules(deployment: str, as_json: bool = JSON_OPTION, uri: str | None = URI_OPTION) -> None:
    """A deployment's alert rules."""
    client = make_client(uri)
    rules = client.list_alert_rules(deployment)
    _known(client, deployment, bool(rules))
    if as_json:
        typer.echo(json.dumps([r.model_dump(mode="json") for r in rules]))
        return
    table = Table(box=box.SIMPLE_HEAD, title=f"Alert rules of {deployment}")
    for col in ("name", "condition", "severity", "email", "by"):
        table.add_column(col)
    for r in rules:
        table.add_row(escape(r.name), escape(r.condition), r.severity, escape(", ".join(r.email)) or "-",
                      escape(r.created_by) or "-")  # fmt: skip
    console.print(table)


@rules_app.command("remove")
@friendly_errors
def remove_rule(deployment: str, name: str, uri: str | None = URI_OPTION) -> None:
    """Remove an alert rule (its alerts go with it)."""
    make_client(uri).delete_alert_rule(deployment, name)
    console.print(f"Alert rule [bold]{escape(name)}[/] on {escape(deployment)} removed.", highlight=False)
