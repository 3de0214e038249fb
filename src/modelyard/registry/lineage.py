"""The lineage graph of a model version: datasets → run → version → aliases."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelyard.core.errors import NotFound
from modelyard.registry.schemas import Lineage, LineageEdge, LineageNode, ModelVersion

if TYPE_CHECKING:
    from modelyard.registry.service import RegistryService


def build_lineage(svc: RegistryService, version: ModelVersion) -> Lineage:
    """Everything that fed a version, and everything that points at it."""
    root = f"model_version:{version.id}"
    nodes = [
        LineageNode(
            id=root,
            type="model_version",
            label=f"{version.model_name} v{version.version}",
            data={
                "version": version.version,
                "flavor": version.flavor,
                "digest": version.digest,
                "provenance": version.provenance,
                "source": version.source,
                "created_by": version.created_by,
                "created_at": version.created_at,
                "unsafe": version.unsafe,
                "trusted": version.trusted,
            },
        )
    ]
    edges: list[LineageEdge] = []
    if version.run_id:
        try:
            run = svc.tracking.get_run(version.run_id)
        except NotFound:
            run = None
        if run is not None:
            run_node = f"run:{run.id}"
            nodes.append(
                LineageNode(
                    id=run_node,
                    type="run",
                    label=run.name,
                    data={
                        "status": run.status,
                        "user": run.user,
                        "git_commit": run.git_commit,
                        "git_dirty": run.git_dirty,
                        "entry_point": run.entry_point,
                        "python_version": run.python_version,
                        "params": run.params,
                        "metrics": run.metrics,
                        "start_time": run.start_time,
                        "end_time": run.end_time,
                    },
                )
            )
            edges.append(LineageEdge(source=run_node, target=root, relation="produced"))
            if run.env_digest:
                env_node = f"environment:{run.env_digest}"
                nodes.append(
                    LineageNode(
                        id=env_node,
                        type="environment",
                        label=run.env_digest[:12],
                        data={"digest": run.env_digest, "python_version": run.python_version},
                    )
                )
                edges.append(LineageEdge(source=env_node, target=run_node, relation="ran_in"))
            for inp in run.inputs:
                ds = inp.dataset
                ds_node = f"dataset:{ds.id}"
                if all(n.id != ds_node for n in nodes):
                    nodes.append(
                        LineageNode(
                            id=ds_node,
                            type="dataset",
                            label=f"{ds.name} ({ds.digest[:12]})",
                            data={
                                "name": ds.name,
                                "digest": ds.digest,
                                "rows": ds.num_rows,
                                "columns": ds.num_columns,
                                "source": ds.source,
                            },
                        )
                    )
                edges.append(LineageEdge(source=ds_node, target=run_node, relation=inp.context))
    for alias in version.aliases:
        alias_node = f"alias:{version.model_id}:{alias}"
        nodes.append(LineageNode(id=alias_node, type="alias", label=f"@{alias}", data={"alias": alias}))
        edges.append(LineageEdge(source=alias_node, target=root, relation="points_to"))
    return Lineage(root=root, nodes=nodes, edges=edges)
