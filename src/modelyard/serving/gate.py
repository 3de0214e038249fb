"""What a deployment may point at: models of its own project that exist and are ready, and,
for production, only versions that passed governance.

A production deployment's answering models (primary, A/B arms, canary) must be either a
protected alias of the model's risk tier (those move only through approved promotions, so
an alias move the serving process picks up is governed too) or a version that holds such an
alias or had a promotion applied. Shadows answer nobody and are free.
"""

from __future__ import annotations

from sqlalchemy import select

from modelyard.core.errors import InvalidArgument, PermissionDenied
from modelyard.governance.gate import current_policies
from modelyard.governance.tables import promotion_requests
from modelyard.registry.schemas import ModelVersion
from modelyard.registry.service import RegistryService
from modelyard.registry.uris import parse_model_uri
from modelyard.serving.schemas import PRIMARY, DeploymentSpec


def routes(spec: DeploymentSpec) -> list[tuple[str, str, bool]]:
    """(variant name, model URI, answers traffic) for every model a spec names."""
    out = [(PRIMARY, spec.model_uri, True)]
    out += [(v.name, v.model_uri, v.mode == "ab") for v in spec.variants]
    if spec.canary is not None:
        out.append(("canary", spec.canary.model_uri, spec.canary.state == "running"))
    return out


def resolve(registry: RegistryService, project: str, uri: str) -> ModelVersion:
    """The version a ``models:/`` URI names now, which must be in ``project`` and ready."""
    proj, name, ref = parse_model_uri(uri, project)
    if proj != project:
        raise InvalidArgument(
            f"{uri!r} names a model in project {proj!r}; a deployment serves models of its own project "
            f"({project!r})."
        )
    if ref.startswith("@"):
        version = registry.get_version(project=project, name=name, alias=ref[1:])
    elif ref == "latest":
        raise InvalidArgument(
            f"{uri!r}: name a version or an alias; 'latest' would change under the deployment."
        )
    else:
        version = registry.get_version(project=project, name=name, version=int(ref))
    if version.status != "ready":
        raise InvalidArgument(f"{uri!r} is version {version.version}, which is {version.status}, not ready.")
    return version


def check_routes(registry: RegistryService, project: str, spec: DeploymentSpec) -> None:
    """Refuse a spec that names a missing model, or, in production, an ungoverned one."""
    policies = current_policies(registry.db) if spec.production else {}
    for variant, uri, answers in routes(spec):
        version = resolve(registry, project, uri)
        if not (spec.production and answers):
            continue
        model = registry.get_model(project=project, name=version.model_name)
        protected = set(policies[model.risk_tier.value].protected_aliases)
        ref = parse_model_uri(uri, project)[2]
        if ref.startswith("@"):
            if ref[1:] in protected:
                continue
            raise PermissionDenied(
                f"Production deployments answer only from governed models: {variant} names alias "
                f"{ref[1:]!r} of {model.name!r}, which moves without approval. Use a protected alias "
                f"({', '.join(sorted(protected))}) or a version that passed governance."
            )
        if protected & {a for a, v in model.aliases.items() if v == version.version} or _promoted(
            registry, version.id
        ):
            continue
        raise PermissionDenied(
            f"Production deployments answer only from governed models: {variant} is version "
            f"{version.version} of {model.name!r}, which has not passed governance. Request a promotion "
            "(modelyard governance request) and get it approved, or deploy it as a shadow."
        )


def _promoted(registry: RegistryService, version_id: str) -> bool:
    with registry.db.read() as conn:
        return (
            conn.execute(
                select(promotion_requests.c.id).where(
                    promotion_requests.c.version_id == version_id, promotion_requests.c.status == "applied"
                )
            ).first()
            is not None
        )
