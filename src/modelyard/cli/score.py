"""``modelyard score``: batch-score a Parquet or CSV file, with a progress bar; rerun to resume."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from modelyard.cli.common import URI_OPTION, console, err_console, friendly_errors, make_client
from modelyard.serving.batch import DEFAULT_CHUNK_ROWS, ScoreProgress


class _Bar:
    """Feeds ``ScoreProgress`` events to a Rich progress bar (rows for Parquet, bytes for CSV)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("loading model", total=None, detail="")
        self.last: ScoreProgress | None = None

    def __call__(self, p: ScoreProgress) -> None:
        self.last = p
        if p.phase == "start" and p.resumed_chunks:
            of = f" of {p.chunks_total:,}" if p.chunks_total is not None else ""
            self.progress.console.print(f"resuming: {p.resumed_chunks:,}{of} chunks already done")
        if p.phase == "start":
            self.progress.update(self.task, description="scoring")
        chunks = f"chunk {p.chunks_done:,}" + (f"/{p.chunks_total:,}" if p.chunks_total is not None else "")
        if p.rows_total is not None:
            detail = f"{p.rows_done:,}/{p.rows_total:,} rows · {chunks}"
            self.progress.update(self.task, total=max(p.rows_total, 1), completed=p.rows_done, detail=detail)
        else:
            detail = (
                f"{p.rows_done:,} rows · {p.bytes_done / 1e6:,.1f}/{p.bytes_total / 1e6:,.1f} MB · {chunks}"
            )
            self.progress.update(
                self.task, total=max(p.bytes_total, 1), completed=p.bytes_done, detail=detail
            )
        if p.phase == "assemble":
            self.progress.update(self.task, description="writing output")


@friendly_errors
def score(
    model: str = typer.Option(
        ...,
        "--model",
        "-m",
        help="models:/name@alias, models:/name/3, runs:/<run-id>/<path> or a model folder.",
    ),
    input: Path = typer.Option(
        ..., "--input", "-i", help="A .parquet or .csv file (streamed, never loaded whole)."
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The .parquet file to write."),
    chunk_rows: int = typer.Option(DEFAULT_CHUNK_ROWS, "--chunk-rows", min=1, help="Rows per chunk."),
    keep: list[str] = typer.Option(
        [], "--keep", help="Input column(s) to copy to the output (repeat or comma-separate; default: all)."
    ),
    ray: str | None = typer.Option(
        None, "--ray", help="Score on Ray: auto, ray://host:10001, or local to start one on this machine."
    ),
    proba: bool = typer.Option(True, "--proba/--no-proba", help="Add class probabilities (classifiers)."),
    trust: bool = typer.Option(False, "--trust", help="Allow a pickle-based local model folder."),
    project: str = typer.Option("default", "--project", "-p", help="Project of a models:/ URI."),
    uri: str | None = URI_OPTION,
) -> None:
    """Score a Parquet or CSV file in chunks into Parquet; if it stops, the same command resumes it."""
    from modelyard.serving.batch import score as run_score

    client = make_client(uri) if model.startswith(("models:/", "runs:/")) else None
    keep_columns = [c.strip() for k in keep for c in k.split(",") if c.strip()] or None
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeRemainingColumn(),
    )
    bar: _Bar | None = None
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            bar = _Bar(progress)
            summary = run_score(
                model,
                input,
                output,
                chunk_rows=chunk_rows,
                keep_columns=keep_columns,
                client=client,
                ray_address=ray,
                progress=bar,
                probabilities=proba,
                trust=trust,
                project=project,
            )
    except KeyboardInterrupt:
        done = bar.last.chunks_done if bar and bar.last else 0
        err_console.print(
            f"Interrupted: {done:,} chunk(s) are saved in {output}.parts; run the same command to resume."
        )
        raise typer.Exit(130) from None
    finally:
        if client is not None:
            client.close()
    resumed = f" ({summary.resumed_chunks:,} resumed)" if summary.resumed_chunks else ""
    where = f" on Ray ({ray})" if ray else ""
    console.print(
        f"Scored {summary.rows:,} rows in {summary.chunks:,} chunks{resumed}{where} in "
        f"{summary.seconds:.1f} s (model load {summary.model_seconds:.1f} s; "
        f"{summary.rows_per_second:,.0f} rows/s) → {summary.output}",
        highlight=False,
        soft_wrap=True,
    )
