"""What every run captures by itself: who, where, which code, which environment."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

MAX_DIFF_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class RunContext:
    """The context of the process that starts a run."""

    user: str
    host: str
    pid: int
    entry_point: str
    python_version: str
    git_commit: str | None
    git_dirty: bool | None
    git_diff: str | None


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """The installed packages, content-hashed so identical environments share one record."""

    digest: str
    python_version: str
    platform: str
    packages: list[str]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields."""
        return asdict(self)


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.decode("utf-8", errors="replace") if out.returncode == 0 else None


def _entry_point() -> Path | None:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return Path(path).resolve() if path else None


def capture_run_context(cwd: Path | None = None) -> RunContext:
    """Capture user, host, entry point, Python version and git state (never raises for git)."""
    script = _entry_point()
    where = cwd or (script.parent if script else Path.cwd())
    root = _git(["rev-parse", "--show-toplevel"], where)
    commit = dirty = diff = None
    entry = "<interactive>"
    if script is not None:
        entry = str(script)
    if root:
        top = Path(root.strip())
        if script is not None and script.is_relative_to(top):
            entry = script.relative_to(top).as_posix()
        head = _git(["rev-parse", "HEAD"], where)
        commit = head.strip() if head else None
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        dirty = bool(status and status.strip()) if status is not None else None
        if dirty:
            text = _git(["diff", "HEAD"], where) or ""
            raw = text.encode()
            if len(raw) > MAX_DIFF_BYTES:
                text = raw[:MAX_DIFF_BYTES].decode(errors="ignore") + "\n[diff truncated at 10 MB]\n"
            diff = text
    try:
        user = getpass.getuser()
    except Exception:  # no login name in some containers
        user = str(os.getuid())
    return RunContext(user=user, host=socket.gethostname(), pid=os.getpid(), entry_point=entry,
                      python_version=platform.python_version(), git_commit=commit, git_dirty=dirty, git_diff=diff)


@lru_cache(maxsize=1)
def environment_snapshot() -> EnvironmentSnapshot:
    """This interpreter's installed packages (computed once per process)."""
    packages = sorted({
        f"{dist.metadata['Name'].lower().replace('_', '-')}=={dist.version}"
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    })
    fields = {"python_version": platform.python_version(), "platform": platform.platform(), "packages": packages}
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
    return EnvironmentSnapshot(digest=digest, **fields)  # type: ignore[arg-type]
