"""``modelyard runs``: search, inspect and compare runs as readable tables."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

import typer
from rich import box
from rich.console import Console, Group, JustifyMethod
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from modelyard.cli.common import URI_OPTION, console, friendly_errors, make_client
from modelyard.client.client import Client
from modelyard.core.errors import InvalidArgument, NotFound
from modelyard.tracking.schemas import Run

app = typer.Typer(name="runs", no_args_is_help=True, help="Search, inspect and compare runs.")

DEFAULT_PROJECT = "default"
MAX_METRIC_COLUMNS = 6
MAX_PARAM_COLUMNS = 4
STATUS_STYLES = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "bold red", "KILLED": "yellow"}
DIFF_STYLE = "bold yellow"
HEADER_STYLES = {"metrics": "bold cyan", "params": "bold magenta", "tags": "bold blue"}
BEST_MARK = "★"
# Metric names that contain one of these words are better when lower (loss, error rates, ...).
_LOWER_IS_BETTER = re.compile(r"loss|err|rmse|mse|mae|mape|brier|deviance|perplexity|latency", re.I)
_ENTITY_PREFIXES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "tags": "tags",
    "tag": "tags",
}
_HEX = re.compile(r"^[0-9a-f]{1,32}$")


# ------------------------------------------------------------------ formatting
def human_time(ms: int | None, now: float | None = None) -> str:
    """A timestamp in milliseconds as "3 min ago", or a date when older than a week."""
    if ms is None:
        return "-"
    seconds = (time.time() if now is None else now) - ms / 1000
    if seconds < 5:
        return "just now"
    for limit, unit, label in (
        (60, 1, "s"),
        (3600, 60, "min"),
        (86_400, 3600, "h"),
        (7 * 86_400, 86_400, "d"),
    ):
        if seconds < limit:
            return f"{int(seconds // unit)} {label} ago"
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M")


def local_time(ms: int | None) -> str:
    """A timestamp in milliseconds as local date and time."""
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """Seconds as "0.4s", "12.3s", "4m 05s" or "2h 03m"."""
    if seconds is None:
        return "-"
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"


def run_duration(run: Run) -> str:
    """How long a run took (or has been running)."""
    if run.end_time is not None:
        return format_duration((run.end_time - run.start_time) / 1000)
    if run.status == "RUNNING":
        return format_duration(time.time() - run.start_time / 1000) + " …"
    return "-"


def status_text(status: str) -> Text:
    """A run status in its colour."""
    return Text(str(status), style=STATUS_STYLES.get(str(status), ""))


def format_value(value: float | str | None) -> str:
    """A metric value in at most 6 significant digits (None is a stored NaN)."""
    if value is None:
        return "nan"
    if isinstance(value, str):
        return value
    return f"{value:.6g}"


def format_size(size: int | None) -> str:
    """Bytes as "512 B", "3.4 KB", "1.2 MB"."""
    if size is None:
        return ""
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1024 or unit == "GB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TB"  # pragma: no cover - unreachable


# -------------------------------------------------------------------- helpers
def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def resolve_run(client: Client, run_id: str) -> Run:
    """A run by full id, or by a unique id prefix such as the 8 characters ``runs list`` shows."""
    try:
        return client.get_run(run_id)
    except NotFound:
        prefix = run_id.strip().lower()
        if len(prefix) >= 32 or not _HEX.match(prefix):
            raise
    matches = client.search_runs(None, filter=f"attributes.id LIKE '{prefix}%'", max_results=2)
    if not matches:
        raise NotFound(f"No run with id {run_id!r} (nor one whose id starts with it).")
    if len(matches) > 1:
        raise InvalidArgument(f"{run_id!r} is the start of several run ids; give more characters.")
    return client.get_run(matches[0].id)


def _experiment_ids(client: Client, project: str, experiments: Sequence[str]) -> list[str]:
    """Experiment names (or ids) of a project as ids."""
    if not experiments:
        return []
    known = client.list_experiments(project)
    by_name = {e.name: e.id for e in known}
    ids = {e.id for e in known}
    out = []
    for ref in experiments:
        if ref in by_name:
            out.append(by_name[ref])
        elif ref in ids:
            out.append(ref)
        else:
            names = ", ".join(sorted(by_name)) or "none yet"
            raise NotFound(f"Project {project!r} has no experiment named {ref!r} (it has: {names}).")
    return out


def _parse_columns(spec: str) -> list[tuple[str, str]]:
    """``"metrics.auc,params.lr"`` as ``[("metrics", "auc"), ("params", "lr")]``; bare keys are metrics."""
    out = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        head, dot, rest = item.partition(".")
        entity = _ENTITY_PREFIXES.get(head.lower()) if dot else None
        out.append((entity, rest) if entity and rest else ("metrics", item))
    if not out:
        raise InvalidArgument("--columns needs at least one key, e.g. --columns metrics.auc,params.lr")
    return out


def _ordered_keys(runs: Iterable[Iterable[str]], first: Sequence[str], limit: int) -> list[str]:
    """Up to ``limit`` keys: those named in ``first``, then the most common, ties alphabetically."""
    counts: Counter[str] = Counter()
    for keys in runs:
        counts.update(list(keys))  # a key's count is the number of runs that have it
    chosen = [k for k in dict.fromkeys(first) if k in counts]
    rest = sorted((k for k in counts if k not in chosen), key=lambda k: (-counts[k], k))
    return (chosen + rest)[:limit]


def _order_keys(order_by: Sequence[str], entity: str) -> list[str]:
    """Keys of one entity named in order-by clauses, e.g. "auc" from "metrics.auc DESC"."""
    out = []
    for clause in order_by:
        field = clause.strip().split()[0] if clause.strip() else ""
        head, dot, key = field.partition(".")
        if dot and _ENTITY_PREFIXES.get(head.lower()) == entity:
            out.append(key.strip('`"'))
    return out


def _default_columns(runs: Sequence[Run], order_by: Sequence[str]) -> list[tuple[str, str]]:
    metrics = _ordered_keys((r.metrics for r in runs), _order_keys(order_by, "metrics"), MAX_METRIC_COLUMNS)
    params = _ordered_keys((r.params for r in runs), _order_keys(order_by, "params"), MAX_PARAM_COLUMNS)
    return [("metrics", k) for k in metrics] + [("params", k) for k in params]


def _cell(run: Run, entity: str, key: str) -> str:
    values: dict[str, Any] = getattr(run, entity)
    if key not in values:
        return ""
    return format_value(values[key]) if entity == "metrics" else str(values[key])


def _runs_table(runs: Sequence[Run], cols: Sequence[tuple[str, str]]) -> Table:
    """One row per run: id, name, status, start, duration, then the chosen columns."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0))
    table.add_column("id", style="dim", no_wrap=True)
    table.add_column("name", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("start", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    for entity, key in cols:
        justify: JustifyMethod = "right" if entity == "metrics" else "left"
        table.add_column(key, header_style=HEADER_STYLES[entity], justify=justify, no_wrap=True)
    for run in runs:
        cells = [_cell(run, entity, key) for entity, key in cols]
        start = human_time(run.start_time)
        table.add_row(run.id[:8], run.name, status_text(run.status), start, run_duration(run), *cells)
    return table


def _natural_width(table: Table) -> int:
    return console.measure(table, options=console.options.update_width(100_000)).maximum


def _fit_columns(
    runs: Sequence[Run], cols: list[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """In a terminal, drop trailing columns until the table fits, rather than squeeze numbers to "0.…"."""
    if not console.is_terminal:
        return cols, []
    kept = list(cols)
    while kept and _natural_width(_runs_table(runs, kept)) > console.width:
        kept.pop()
    return kept, cols[len(kept) :]


def print_table(table: Table) -> None:
    """Print a table; when the output is a file or pipe, at its full width so no value is cut."""
    width = _natural_width(table)
    if console.is_terminal or width <= console.width:
        console.print(table)
    else:
        Console(file=console.file, width=width).print(table)


# ------------------------------------------------------------------- commands
@app.command("list")
@friendly_errors
def list_runs(
    project: str = typer.Option(DEFAULT_PROJECT, "--project", "-p", help="Project name."),
    experiment: list[str] = typer.Option(
        [], "--experiment", "-e", help="Experiment name (repeat for several); default all."
    ),
    filter: str = typer.Option(
        None, "--filter", "-f", help="e.g. \"metrics.auc > 0.8 and params.depth = '3'\"."
    ),
    order_by: list[str] = typer.Option(
        [], "--order-by", "-o", help='e.g. "metrics.auc DESC" (repeat for ties); default newest first.'
    ),
    max_results: int = typer.Option(50, "--max-results", "-n", min=1, max=10_000, help="Runs per page."),
    page_token: str = typer.Option(None, "--page-token", help="Token printed under the previous page."),
    columns: str = typer.Option(
        None, "--columns", "-c", help="Columns after the run info, e.g. metrics.auc,params.lr,tags.team."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per run (for scripts)."),
    uri: str = URI_OPTION,
) -> None:
    """List a project's runs, with the same filter and order-by language as the SDK."""
    with make_client(uri) as client:
        exp_ids = _experiment_ids(client, project, experiment)
        page = client.search_runs(
            project,
            experiment_ids=exp_ids,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )
    if as_json:
        for run in page:
            # Search results do not load dataset inputs (``runs show`` does): leave the field out.
            typer.echo(run.model_dump_json(by_alias=True, exclude={"inputs"}))
        if page.next_page_token:
            typer.echo(f"next page: --page-token {page.next_page_token}", err=True)
        return
    if not page:
        console.print(f"No runs in project [bold]{project}[/] match.", highlight=False)
        return
    if columns:
        cols, hidden = _parse_columns(columns), list[tuple[str, str]]()
    else:
        cols, hidden = _fit_columns(page, _default_columns(page, order_by))
    print_table(_runs_table(page, cols))
    summary = [f"{_plural(len(page), 'run')} in [bold]{project}[/]"]
    for entity in ("metrics", "params", "tags"):
        keys = [k for e, k in cols if e == entity]
        if keys:
            summary.append(f"[{HEADER_STYLES[entity]}]{entity}[/]: {', '.join(keys)}")
    console.print(" · ".join(summary), highlight=False)
    if hidden:
        names = ", ".join(f"{e}.{k}" for e, k in hidden)
        console.print(
            f"[dim]{_plural(len(hidden), 'more column')} did not fit ({names}): "
            "widen the terminal or choose with --columns.[/]",
            highlight=False,
        )
    if page.next_page_token:
        console.print(f"More runs: add [bold]--page-token {page.next_page_token}[/]", highlight=False)


def _kv_table(
    title: str, rows: Sequence[tuple[str, str | Text]], value_justify: JustifyMethod = "left"
) -> Table:
    table = Table(
        title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_header=False
    )
    table.add_column("key", style="bold")
    table.add_column("value", justify=value_justify, overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    if not rows:
        table.add_row(Text("none", style="dim"), "")
    return table


def _info_rows(client: Client, run: Run) -> list[tuple[str, str | Text]]:
    experiment = client.get_experiment(run.experiment_id)
    project = client.get_project(run.project_id)
    if run.git_commit:
        dirty = {True: " [yellow](uncommitted changes)[/]", False: " (clean)", None: ""}[run.git_dirty]
        git: str | Text = Text.from_markup(f"{run.git_commit[:12]}{dirty}")
    else:
        git = "-"
    start = f"{local_time(run.start_time)} ({human_time(run.start_time)})"
    return [
        ("id", run.id),
        ("project", project.name),
        ("experiment", experiment.name),
        ("status", status_text(run.status)),
        ("user", run.user or "-"),
        ("host", run.host or "-"),
        ("entry point", run.entry_point or "-"),
        ("git commit", git),
        ("python", run.python_version or "-"),
        ("env digest", run.env_digest[:12] if run.env_digest else "-"),
        ("start", start),
        ("end", local_time(run.end_time)),
        ("duration", run_duration(run)),
        ("artifact uri", run.artifact_uri),
    ]


@app.command("show")
@friendly_errors
def show_run(
    run_id: str = typer.Argument(..., help="Run id, or its first characters as `runs list` shows them."),
    as_json: bool = typer.Option(False, "--json", help="Print the run and its artifacts as one JSON object."),
    uri: str = URI_OPTION,
) -> None:
    """Everything a run recorded: info, params, metrics, tags, datasets and artifacts."""
    with make_client(uri) as client:
        run = resolve_run(client, run_id)
        artifacts = client.list_artifacts(run.id)
        info = None if as_json else _info_rows(client, run)
    if as_json:
        body = run.model_dump(mode="json", by_alias=True)
        body["artifacts"] = [asdict(a) for a in artifacts]
        typer.echo(json.dumps(body))
        return
    assert info is not None
    inputs = Table(title="Datasets", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
    inputs.add_column("name")
    inputs.add_column("digest")
    inputs.add_column("rows", justify="right")
    inputs.add_column("context")
    for item in run.inputs:
        rows = "-" if item.dataset.num_rows is None else f"{item.dataset.num_rows:,}"
        inputs.add_row(item.dataset.name, item.dataset.digest[:12], rows, item.context)
    if not run.inputs:
        inputs.add_row(Text("none", style="dim"), "", "", "")
    files = Table(title="Artifacts", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
    files.add_column("path")
    files.add_column("size", justify="right")
    for entry in artifacts:
        files.add_row(entry.path + ("/" if entry.is_dir else ""), format_size(entry.size))
    if not artifacts:
        files.add_row(Text("none", style="dim"), "")
    console.print(
        Panel(
            _kv_table("", info),
            title=f"[bold]Run {run.name}[/]",
            title_align="left",
            border_style=STATUS_STYLES.get(run.status, ""),
        )
    )
    console.print(
        Group(
            _kv_table("Params", [(k, run.params[k]) for k in sorted(run.params)]),
            _kv_table(
                "Metrics (latest)", [(k, format_value(run.metrics[k])) for k in sorted(run.metrics)], "right"
            ),
            _kv_table("Tags", [(k, run.tags[k]) for k in sorted(run.tags)]),
            inputs,
            files,
        )
    )


def _best_index(key: str, values: Sequence[float | None]) -> int | None:
    """Which run holds the best value of a metric (lower is better for losses and errors)."""
    numbers = [(v, i) for i, v in enumerate(values) if v is not None and v == v]
    if len(numbers) < 2 or len({v for v, _ in numbers}) < 2:
        return None
    pick = min if _LOWER_IS_BETTER.search(key) else max
    return pick(numbers)[1]


@app.command("compare")
@friendly_errors
def compare_runs(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids (or id prefixes)."),
    uri: str = URI_OPTION,
) -> None:
    """Runs side by side: every param and metric, differences in yellow, the best metric value starred."""
    if len(run_ids) < 2:
        raise InvalidArgument("Give at least two run ids to compare.")
    with make_client(uri) as client:
        runs = [resolve_run(client, r) for r in run_ids]
    table = Table(box=box.SIMPLE_HEAD, header_style="bold")
    table.add_column("", style="bold", no_wrap=True)
    for run in runs:
        table.add_column(f"{run.name}\n[dim]{run.id[:8]}[/]", justify="right")
    table.add_row("status", *(status_text(r.status) for r in runs))
    table.add_row("duration", *(run_duration(r) for r in runs))
    for entity in ("params", "metrics"):
        keys = sorted({k for r in runs for k in getattr(r, entity)})
        if keys:
            table.add_section()
        for key in keys:
            cells = [_cell(r, entity, key) for r in runs]
            differs = len(set(cells)) > 1
            best = _best_index(key, [r.metrics.get(key) for r in runs]) if entity == "metrics" else None
            styled = []
            for i, cell in enumerate(cells):
                if i == best:
                    styled.append(Text(f"{cell} {BEST_MARK}", style="bold green"))
                else:
                    styled.append(Text(cell or "-", style=DIFF_STYLE if differs else ""))
            table.add_row(f"{entity}.{key}", *styled)
    print_table(table)
    console.print(
        f"[{DIFF_STYLE}]yellow[/]: differs between runs   [bold green]{BEST_MARK}[/]: best value "
        "(lowest for losses and errors, else highest)",
        highlight=False,
    )
