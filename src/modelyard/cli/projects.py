"""``modelyard projects``: the projects in a store, with their activity."""

from __future__ import annotations

import typer
from rich import box
from rich.table import Table

from modelyard.cli.common import URI_OPTION, console, friendly_errors, make_client
from modelyard.cli.runs import human_time

app = typer.Typer(name="projects", no_args_is_help=True, help="List projects.")


@app.command("list")
@friendly_errors
def list_projects(uri: str = URI_OPTION) -> None:
    """Projects with their experiment and run counts and their latest run."""
    with make_client(uri) as client:
        projects = client.list_projects()
    if not projects:
        console.print("No projects yet: log a run (or try [bold]modelyard demo[/]) to create one.")
        return
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("experiments", justify="right")
    table.add_column("runs", justify="right")
    table.add_column("last run", no_wrap=True)
    table.add_column("created by")
    for p in sorted(projects, key=lambda p: p.name.lower()):
        table.add_row(p.name, str(p.experiments), str(p.runs), human_time(p.last_run_at), p.created_by or "-")
    console.print(table)
