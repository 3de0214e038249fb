"""Model cards: generated from lineage (data, metrics, params, environment) plus written sections.

Rendered as Markdown, or as one self-contained HTML page (inline CSS, no scripts, no
external requests) with every value HTML-escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from modelyard.registry.lineage import build_lineage
from modelyard.registry.schemas import ModelVersion

if TYPE_CHECKING:
    from modelyard.registry.service import RegistryService

_env = Environment(
    loader=PackageLoader("modelyard.registry", "templates"),
    autoescape=select_autoescape(["html", "html.j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
SECTION_TITLES = {
    "intended_use": "Intended use",
    "limitations": "Limitations",
    "ethical_considerations": "Ethical considerations",
}


def card_context(svc: RegistryService, version: ModelVersion) -> dict[str, Any]:
    """Everything a card shows, as plain data."""
    model = svc.get_model(project=version.project_id, name=version.model_name)
    lineage = build_lineage(svc, version)
    run = next((n for n in lineage.nodes if n.type == "run"), None)
    datasets = [n for n in lineage.nodes if n.type == "dataset"]
    contexts = {e.source: e.relation for e in lineage.edges if e.source.startswith("dataset:")}
    sections = svc.get_card_sections(version)
    written = [(SECTION_TITLES[k], getattr(sections, k)) for k in SECTION_TITLES]
    written += sorted(sections.other.items())
    signature = version.manifest.get("signature") or {}
    return {
        "model": model,
        "version": version,
        "created": datetime.fromtimestamp(version.created_at / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "run": run.data if run else None,
        "run_name": run.label if run else None,
        "datasets": [{**d.data, "context": contexts.get(d.id, "")} for d in datasets],
        "inputs": signature.get("inputs") or [],
        "outputs": signature.get("outputs") or [],
        "requirements": version.manifest.get("requirements") or [],
        "sections": written,
        "missing": [title for title, text in written[:3] if not text.strip()],
    }


def render_card(svc: RegistryService, version: ModelVersion, *, html: bool) -> str:
    """The card as Markdown, or as a self-contained HTML page."""
    template = _env.get_template("model_card.html.j2" if html else "model_card.md.j2")
    return template.render(**card_context(svc, version))
