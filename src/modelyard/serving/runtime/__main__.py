"""``python -m modelyard.serving.runtime``: serve a deployment from a spec file and model folders.

This is the entry point of an exported build context (a container image): no metadata store,
no registry. Settings (predictions root, auth, ...) come from ``MODELYARD_*`` as usual.
"""

from __future__ import annotations

import argparse
import sys

from modelyard.core.errors import ModelyardError
from modelyard.core.settings import Settings
from modelyard.serving.runtime.server import RuntimeConfig, preflight, run


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(
        prog="python -m modelyard.serving.runtime", description="Serve a deployment from local files."
    )
    parser.add_argument("--spec", required=True, help="deployment.json (name, model_uri, spec, models)")
    parser.add_argument(
        "--model-dir", default=None, help="the primary model's folder, if the spec names none"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    config = RuntimeConfig.with_settings(
        Settings(), mode="local", spec_file=args.spec, model_dir=args.model_dir
    )
    try:
        for line in preflight(config):
            print(f"Serving {line}", flush=True)
        run(config, host=args.host, port=args.port, workers=args.workers)
    except ModelyardError as exc:
        print(f"Error: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
