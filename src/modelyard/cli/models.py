"""``modelyard models``: register, alias and inspect model versions."""

from __future__ import annotations

from pathlib import Path

import typer
from rich import box
from rich.table import Table
from rich.tree import Tree

from modelyard.cli.common import URI_OPTION, console, friendly_errors, make_client
from modelyard.registry.schemas import Lineage

app = typer.Typer(name="models", no_args_is_help=True, help="Register, alias and inspect models.")
PROJECT = typer.Option("default", "--project", "-p", help="Project the model belongs to.")


def _version_arg(version: str) -> tuple[int | None, str | None]:
    """'3' → version 3, '@champion' or 'champion' → alias, 'latest' → latest."""
    if version == "latest":
        return None, None
    if version.isdigit():
        return int(version), None
    return None, version.lstrip("@")


@app.command("list")
@friendly_errors
def list_models(
    project: str = PROJECT,
    archived: bool = typer.Option(False, help="Include archived models."),
    uri: str | None = URI_OPTION,
) -> None:
    """The project's models with their aliases."""
    client = make_client(uri)
    table = Table(box=box.SIMPLE_HEAD, title=f"Models in {project}")
    for col in ("name", "risk tier", "latest", "aliases", "owner", "status"):
        table.add_column(col)
    for m in client.list_registered_models(project=project, include_archived=archived):
        aliases = ", ".join(f"{a}→v{v}" for a, v in sorted(m.aliases.items())) or "-"
        table.add_row(
            m.name,
            m.risk_tier.value,
            f"v{m.latest_version}" if m.latest_version else "-",
            aliases,
            m.owner or "-",
            m.status,
        )
    console.print(table)


@app.command("versions")
@friendly_errors
def list_versions(name: str, project: str = PROJECT, uri: str | None = URI_OPTION) -> None:
    """Every version of a model, newest first."""
    client = make_client(uri)
    table = Table(box=box.SIMPLE_HEAD, title=f"{name} versions")
    for col in ("version", "aliases", "flavor", "provenance", "source", "digest", "size", "by"):
        table.add_column(col)
    for v in client.list_model_versions(name, project=project):
        flavor = v.flavor + (
            " (pickle, trusted)" if v.unsafe and v.trusted else " (pickle)" if v.unsafe else ""
        )
        table.add_row(
            f"v{v.version}",
            ", ".join(v.aliases) or "-",
            flavor,
            v.provenance,
            v.source,
            v.digest[:12],
            f"{v.size_bytes / 1e6:.1f} MB",
            v.created_by or "-",
        )
    console.print(table)


@app.command("register")
@friendly_errors
def register(
    source: str = typer.Argument(
        ..., help="runs:/<run-id>/<path>, a model folder or file, or an MLflow model folder."
    ),
    name: str = typer.Argument(..., help="Model name (created on first use)."),
    project: str = PROJECT,
    description: str = typer.Option("", help="What changed in this version."),
    uri: str | None = URI_OPTION,
) -> None:
    """Add a version to a model; models not trained in Modelyard become 'external' versions."""
    client = make_client(uri)
    v = client.register_model(source, name, project=project, description=description)
    console.print(
        f"Registered [bold]{name}[/] version [bold]{v.version}[/] ({v.flavor}, {v.provenance}, "
        f"digest {v.digest[:12]})."
    )
    if v.unsafe:
        console.print(
            "[yellow]Stored with pickle: loading it needs the version marked trusted "
            f"(modelyard models trust {name} {v.version}).[/]"
        )


@app.command("alias")
@friendly_errors
def set_alias(
    name: str,
    alias: str,
    version: int,
    project: str = PROJECT,
    reason: str = typer.Option("", help="Why the alias moves (kept in its history)."),
    uri: str | None = URI_OPTION,
) -> None:
    """Point an alias (champion, challenger, production, ...) at a version."""
    client = make_client(uri)
    client.set_model_alias(name, alias, version, project=project, reason=reason)
    console.print(f"[bold]{name}@{alias}[/] → version {version}.")


@app.command("aliases")
@friendly_errors
def alias_history(
    name: str,
    alias: str | None = typer.Option(None, help="Only this alias."),
    project: str = PROJECT,
    uri: str | None = URI_OPTION,
) -> None:
    """The history of alias moves."""
    from modelyard.cli.runs import human_time

    client = make_client(uri)
    table = Table(box=box.SIMPLE_HEAD, title=f"{name} alias history")
    for col in ("when", "alias", "from", "to", "by", "reason"):
        table.add_column(col)
    for m in client.get_alias_history(name, alias, project=project):
        table.add_row(
            human_time(m.at),
            m.alias,
            f"v{m.from_version}" if m.from_version else "-",
            f"v{m.to_version}" if m.to_version else "(removed)",
            m.actor or "-",
            m.reason or "-",
        )
    console.print(table)


@app.command("trust")
@friendly_errors
def trust(
    name: str,
    version: int,
    project: str = PROJECT,
    revoke: bool = typer.Option(False, "--revoke", help="Withdraw the trust."),
    uri: str | None = URI_OPTION,
) -> None:
    """Mark a pickle-based version as safe to load (only for authors you trust)."""
    client = make_client(uri)
    client.set_model_version_trusted(name, version, not revoke, project=project)
    console.print(f"{name} v{version} is {'no longer ' if revoke else ''}trusted.")


@app.command("lineage")
@friendly_errors
def lineage(
    name: str,
    version: str = typer.Argument("latest", help="A number, latest, or @alias."),
    project: str = PROJECT,
    uri: str | None = URI_OPTION,
) -> None:
    """Where a version came from, as a tree: aliases → version → run → datasets and environment."""
    number, alias = _version_arg(version)
    graph = make_client(uri).get_model_lineage(name, number, alias=alias, project=project)
    console.print(lineage_tree(graph))


def lineage_tree(graph: Lineage) -> Tree:
    """Render a lineage graph as a Rich tree rooted at the version."""
    nodes = {n.id: n for n in graph.nodes}
    feeds: dict[str, list[tuple[str, str]]] = {}
    for e in graph.edges:
        feeds.setdefault(e.target, []).append((e.source, e.relation))
    root = nodes[graph.root]
    aliases = [nodes[s].label for s, rel in feeds.get(graph.root, []) if rel == "points_to"]
    tree = Tree(
        f"[bold]{root.label}[/] [dim]{root.data.get('flavor')} · {str(root.data.get('digest'))[:12]}[/]"
        + (f"  [green]{' '.join(aliases)}[/]" if aliases else "")
    )

    def add(parent: Tree, node_id: str) -> None:
        for source, relation in feeds.get(node_id, []):
            if relation == "points_to":
                continue
            node = nodes[source]
            detail = ""
            if node.type == "run":
                metrics = ", ".join(
                    f"{k}={v:.4g}" for k, v in sorted(node.data.get("metrics", {}).items()) if v is not None
                )
                detail = f" [dim]commit {str(node.data.get('git_commit') or '?')[:10]} · {metrics}[/]"
            elif node.type == "dataset":
                detail = f" [dim]{node.data.get('rows')} rows[/]"
            branch = parent.add(f"[cyan]{relation}[/] ← {node.type} [bold]{node.label}[/]{detail}")
            add(branch, source)

    add(tree, graph.root)
    if root.data.get("provenance") == "external":
        tree.add(f"[yellow]external[/]: {root.data.get('source')}")
    return tree


@app.command("card")
@friendly_errors
def card(
    name: str,
    version: str = typer.Argument("latest", help="A number, latest, or @alias."),
    project: str = PROJECT,
    html: bool = typer.Option(False, "--html", help="A self-contained HTML page."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write to this file instead of printing."),
    uri: str | None = URI_OPTION,
) -> None:
    """Export a version's model card as Markdown or HTML."""
    number, alias = _version_arg(version)
    text = make_client(uri).get_model_card(
        name, number, alias=alias, format="html" if html else "md", project=project
    )
    if out is None:
        console.print(text, markup=False, highlight=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out}.")


@app.command("search")
@friendly_errors
def search(
    filter: str | None = typer.Option(
        None,
        "--filter",
        "-f",
        help='e.g. "metrics.auc > 0.8 and '
        "alias = 'champion'\" (versions) or \"risk_tier = 'high'\" (models).",
    ),
    versions: bool = typer.Option(False, "--versions", help="Search versions instead of models."),
    order_by: list[str] = typer.Option([], "--order-by", help="e.g. 'metrics.auc DESC'."),
    max_results: int = typer.Option(50, help="Page size."),
    project: str = PROJECT,
    uri: str | None = URI_OPTION,
) -> None:
    """Search models (attributes, tags) or versions (also alias and the source run's metrics and params)."""
    client = make_client(uri)
    table = Table(box=box.SIMPLE_HEAD)
    if versions:
        page = client.search_model_versions(
            project=project, filter=filter, order_by=order_by, max_results=max_results
        )
        for col in ("model", "version", "aliases", "flavor", "provenance", "run"):
            table.add_column(col)
        for v in page.versions:
            table.add_row(
                v.model_name,
                f"v{v.version}",
                ", ".join(v.aliases) or "-",
                v.flavor,
                v.provenance,
                (v.run_id or "-")[:8],
            )
    else:
        mpage = client.search_registered_models(
            project=project, filter=filter, order_by=order_by, max_results=max_results
        )
        for col in ("name", "risk tier", "latest", "aliases", "owner"):
            table.add_column(col)
        for m in mpage.models:
            table.add_row(
                m.name,
                m.risk_tier.value,
                f"v{m.latest_version}" if m.latest_version else "-",
                ", ".join(f"{a}→v{n}" for a, n in sorted(m.aliases.items())) or "-",
                m.owner or "-",
            )
    console.print(table)
