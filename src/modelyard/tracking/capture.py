"""What a run records about itself without being asked: who, where, which code, which environment.

Pure functions, no database: :func:`capture_run_context` looks at the process and at git,
:func:`environment_snapshot` lists the installed packages. Neither ever raises because git is
missing or the code is not in a repository; those fields are simply ``None``.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import json
import os
import platform
import re
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

INTERACTIVE = "<interactive>"
"""Entry point recorded when there is no script (REPL, notebook, ``python -c``)."""

MAX_DIFF_BYTES = 10 * 1024 * 1024
"""``git diff`` output is cut at this size; the text then says so at its end."""

GIT_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class RunContext:
    """Who ran what, where, from which commit.

    Attributes:
        user: Login name of the process owner (``"unknown"`` if it cannot be found).
        host: Host name.
        pid: Process id.
        entry_point: Script of ``__main__``: relative to the git root inside a repository, else
            absolute; ``"<interactive>"`` in a REPL or notebook.
        python_version: For example ``"3.11.7"``.
        git_commit: Full ``HEAD`` commit, ``None`` outside a repository or before the first commit.
        git_dirty: Whether tracked files differ from ``HEAD``; ``None`` outside a repository.
        git_diff: ``git diff HEAD`` when dirty (cut at 10 MB, with a note), else ``None``.
    """

    user: str
    host: str
    pid: int
    entry_point: str
    python_version: str
    git_commit: str | None
    git_dirty: bool | None
    git_diff: str | None

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serialisable dict."""
        return asdict(self)


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """The Python environment a run used.

    Attributes:
        digest: SHA-256 hex of the canonical JSON of the other fields; equal environments give
            equal digests.
        python_version: For example ``"3.11.7"``.
        platform: ``platform.platform()``.
        packages: Sorted, deduplicated ``name==version`` with normalised lowercase names.
    """

    digest: str
    python_version: str
    platform: str
    packages: list[str]

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serialisable dict (a copy)."""
        return asdict(self)


def capture_run_context(cwd: Path | None = None) -> RunContext:
    """Capture user, host, process, entry point and git state for a new run.

    Args:
        cwd: Folder to look for a git repository from. Defaults to the entry point's folder,
            or the current directory when there is no script.

    Returns:
        The context; git fields are ``None`` when git is missing or this is not a repository.
    """
    script = _main_script()
    if cwd is not None:
        look_from = Path(cwd)
    elif script is not None:
        look_from = script.parent
    else:
        look_from = Path.cwd()
    commit, dirty, diff, root = _git_state(look_from)
    if script is None:
        entry_point = INTERACTIVE
    elif root is not None and script.is_relative_to(root):
        entry_point = script.relative_to(root).as_posix()
    else:
        entry_point = str(script)
    return RunContext(
        user=_user(),
        host=socket.gethostname(),
        pid=os.getpid(),
        entry_point=entry_point,
        python_version=platform.python_version(),
        git_commit=commit,
        git_dirty=dirty,
        git_diff=diff,
    )


@functools.lru_cache(maxsize=1)
def environment_snapshot() -> EnvironmentSnapshot:
    """The installed packages, Python version and platform, computed once per process."""
    packages: set[str] = set()
    for dist in metadata.distributions(path=_install_paths()):
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            packages.add(f"{normalise_name(name)}=={dist.version}")
    return make_snapshot(platform.python_version(), platform.platform(), sorted(packages))


def _install_paths() -> list[str]:
    """Where packages are installed: the interpreter's site folders and ``PYTHONPATH``, not folders
    a library pushed onto ``sys.path`` at import (Ray adds its vendored ``thirdparty_files``), so
    the same environment gets the same digest whatever was imported first."""
    import site

    places = [*site.getsitepackages(), site.getusersitepackages()]
    places += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    wanted = {os.path.realpath(p) for p in places}
    return [p for p in sys.path if os.path.realpath(p or ".") in wanted]


def make_snapshot(python_version: str, platform_name: str, packages: list[str]) -> EnvironmentSnapshot:
    """Build a snapshot from its fields, computing the digest over their canonical JSON."""
    packages = sorted(set(packages))
    body = {"python_version": python_version, "platform": platform_name, "packages": packages}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return EnvironmentSnapshot(
        digest=hashlib.sha256(canonical.encode()).hexdigest(),
        python_version=python_version,
        platform=platform_name,
        packages=packages,
    )


def normalise_name(name: str) -> str:
    """PEP 503 normal form of a distribution name: lowercase, runs of ``-_.`` become ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _main_script() -> Path | None:
    main = sys.modules.get("__main__")
    file = getattr(main, "__file__", None)
    if not file:
        return None
    return Path(file).resolve()


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no login name in the environment nor in passwd
        return "unknown"


def _git_state(folder: Path) -> tuple[str | None, bool | None, str | None, Path | None]:
    """Commit, dirty flag, diff and repository root as seen from ``folder``; ``None`` if no repo."""
    top = _git(folder, "rev-parse", "--show-toplevel")
    if top is None:
        return None, None, None, None
    root = Path(top.decode(errors="replace").strip()).resolve()
    head = _git(folder, "rev-parse", "--verify", "--quiet", "HEAD")
    commit = (head.decode().strip() or None) if head is not None else None
    # --no-optional-locks: never take index.lock, so a user's concurrent git command is not disturbed.
    status = _git(folder, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no")
    dirty = bool(status.strip()) if status is not None else None
    diff = None
    if dirty and commit is not None:
        raw = _git(folder, "--no-optional-locks", "diff", "--no-color", "--no-ext-diff", "HEAD")
        if raw is not None:
            diff = _cap_diff(raw)
    return commit, dirty, diff, root


def _cap_diff(raw: bytes) -> str:
    if len(raw) <= MAX_DIFF_BYTES:
        return raw.decode(errors="replace")
    text = raw[:MAX_DIFF_BYTES].decode(errors="ignore")
    return f"{text}\n[modelyard: diff truncated at {MAX_DIFF_BYTES} of {len(raw)} bytes]\n"


def _git(folder: Path, *args: str) -> bytes | None:
    """Stdout of a git command, or ``None`` if git is missing, fails or times out."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=folder,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None
