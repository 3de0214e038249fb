"""``modelyard deployments export``: a self-contained build context for one deployment.

The folder holds everything a container (or any fresh Python) needs to serve the deployment
without the registry or a metadata store::

    Dockerfile           python:3.11-slim, installs requirements.txt, runs serve.py
    requirements.txt     every package pinned: Modelyard's runtime dependencies as installed
                         here, then the models' own pins (those win on a clash)
    serve.py             the entry point: python serve.py [--host H] [--port P] [--workers N]
    deployment.json      the spec, with each model URI mapped to its folder and profile
    models/<name>-v<N>/  the model folders, exactly as registered (digests checked on load)
    app/modelyard/       the Modelyard package itself (pure Python)

Models are copied from the digest-checked download cache, so the context serves the very
bytes the registry holds.
"""

from __future__ import annotations

import re
import shutil
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.core.errors import InvalidArgument
from modelyard.models.folder import requirement_name
from modelyard.serving.gate import routes

if TYPE_CHECKING:
    from modelyard.client.client import Client

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?")

DOCKERFILE = """\
# Built by `modelyard deployments export`. Build: docker build -t {image} .
FROM python:3.11-slim
WORKDIR /srv
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system --home /srv modelyard && mkdir -p /srv/data && chown modelyard /srv/data
USER modelyard
ENV MODELYARD_HOME=/srv/data
EXPOSE 8000
# Listening beyond loopback needs sign-in: set MODELYARD_AUTH=true and MODELYARD_STORE_URI to the
# team's store, where API tokens are checked (the serving process refuses otherwise).
CMD ["python", "serve.py", "--host", "0.0.0.0", "--port", "8000"]
"""

SERVE_PY = '''\
"""Serve the exported deployment: python serve.py [--host H] [--port P] [--workers N]."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "app"))

from modelyard.serving.runtime.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["--spec", str(HERE / "deployment.json"), *sys.argv[1:]]))
'''


def export_deployment(client: Client, name: str, folder: str | Path) -> Path:
    """Write the build context of deployment ``name`` into ``folder`` (new or empty).

    Raises:
        InvalidArgument: ``folder`` exists and is not empty.
        NotFound: the deployment or one of its models is gone.
    """
    out = Path(folder)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidArgument(f"{str(out)!r} is not an empty folder: export into a new one.")
    deployment = client.get_deployment(name)
    staging = out.with_name(f".{out.name}.exporting")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        models: dict[str, Any] = {}
        model_requirements: list[str] = []
        for _, uri, _ in routes(deployment):
            if uri in models:
                continue
            path, version = client.download_model(uri, project=deployment.project)
            rel = f"models/{version.model_name}-v{version.version}"
            if not (staging / rel).exists():
                shutil.copytree(path, staging / rel)
            entry: dict[str, Any] = {
                "path": rel,
                "name": version.model_name,
                "version": version.version,
                "trusted": version.trusted,
            }
            profile = client.get_reference_profile(deployment.project, version.model_name, version.version)
            if profile is not None:
                (staging / rel / "profile.json").write_bytes(orjson.dumps(profile))
                entry["profile"] = f"{rel}/profile.json"
            models[uri] = entry
            model_requirements += list(version.manifest.get("requirements") or [])
        spec = {
            "name": deployment.name,
            "project": deployment.project,
            **deployment.spec().model_dump(mode="json"),
        }
        spec["models"] = models
        (staging / "deployment.json").write_bytes(orjson.dumps(spec, option=orjson.OPT_INDENT_2))
        (staging / "requirements.txt").write_text("\n".join(pinned_requirements(model_requirements)) + "\n")
        (staging / "serve.py").write_text(SERVE_PY)
        (staging / "Dockerfile").write_text(DOCKERFILE.format(image=f"modelyard-{deployment.name}"))
        (staging / ".dockerignore").write_text(".venv\n**/__pycache__\n")
        _copy_package(staging / "app" / "modelyard")
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def pinned_requirements(model_requirements: list[str]) -> list[str]:
    """Modelyard's runtime dependencies at their installed versions, then the models' pins."""
    pins: dict[str, str] = {}
    for requirement in metadata.requires("modelyard") or []:
        m = _NAME.match(requirement)
        if m is None or "extra ==" in requirement:
            continue
        dist, extras = m[1], m[2] or ""
        try:
            pins[requirement_name(dist)] = f"{dist}{extras}=={metadata.version(dist)}"
        except metadata.PackageNotFoundError:
            pins[requirement_name(dist)] = requirement.split(";")[0].strip()
    for requirement in model_requirements:
        if _NAME.match(requirement) is not None:
            pins[requirement_name(requirement)] = requirement.strip()
    return sorted(pins.values(), key=str.lower)


def _copy_package(target: Path) -> None:
    import modelyard

    source = Path(modelyard.__file__).resolve().parent
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
