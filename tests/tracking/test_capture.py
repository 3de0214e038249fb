"""Run context and environment capture, against real git repositories."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from modelyard.tracking.capture import (
    capture_run_context,
    environment_snapshot,
    make_snapshot,
)

GIT_ID = ["-c", "user.name=Test User", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *GIT_ID, *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh git repository with one commit holding train.py."""
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    root = tmp_path / "project"
    root.mkdir()
    _git(root, "init", "-q")
    (root / "train.py").write_text("alpha = 0.1\n")
    _git(root, "add", "train.py")
    _git(root, "commit", "-q", "-m", "first")
    return root


def test_clean_repository_gives_its_commit(repo: Path) -> None:
    ctx = capture_run_context(cwd=repo)
    assert ctx.git_commit == _git(repo, "rev-parse", "HEAD")
    assert ctx.git_dirty is False
    assert ctx.git_diff is None
    assert ctx.pid == os.getpid()
    assert ctx.python_version == platform.python_version()
    assert ctx.user and ctx.host


def test_edited_tracked_file_makes_it_dirty_with_the_diff(repo: Path) -> None:
    (repo / "train.py").write_text("alpha = 0.5\n")
    (repo / "notes.txt").write_text("untracked files do not count\n")
    ctx = capture_run_context(cwd=repo)
    assert ctx.git_dirty is True
    assert ctx.git_diff is not None
    assert "-alpha = 0.1" in ctx.git_diff and "+alpha = 0.5" in ctx.git_diff
    assert "notes.txt" not in ctx.git_diff


def test_untracked_files_alone_keep_it_clean(repo: Path) -> None:
    (repo / "scratch.py").write_text("x = 1\n")
    assert capture_run_context(cwd=repo).git_dirty is False


def test_outside_a_repository_git_fields_are_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    plain = tmp_path / "plain"
    plain.mkdir()
    ctx = capture_run_context(cwd=plain)
    assert (ctx.git_commit, ctx.git_dirty, ctx.git_diff) == (None, None, None)


def test_a_missing_folder_is_not_an_error(tmp_path: Path) -> None:
    ctx = capture_run_context(cwd=tmp_path / "gone")
    assert (ctx.git_commit, ctx.git_dirty, ctx.git_diff) == (None, None, None)


def test_script_entry_point_is_relative_to_the_git_root(repo: Path) -> None:
    scripts = repo / "scripts"
    scripts.mkdir()
    (scripts / "run.py").write_text(
        "from modelyard.tracking.capture import capture_run_context\n"
        "ctx = capture_run_context()\n"
        "print(ctx.entry_point)\n"
        "print(ctx.git_commit)\n"
    )
    out = subprocess.run(
        [sys.executable, "scripts/run.py"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["scripts/run.py", _git(repo, "rev-parse", "HEAD")]


def test_script_outside_a_repository_has_an_absolute_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    script = tmp_path / "job" / "score.py"
    script.parent.mkdir()
    script.write_text(
        "from modelyard.tracking.capture import capture_run_context\n"
        "print(capture_run_context().entry_point)\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(script.resolve())


def test_no_script_is_interactive(tmp_path: Path) -> None:
    code = (
        "from modelyard.tracking.capture import capture_run_context; print(capture_run_context().entry_point)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "<interactive>"


def test_environment_snapshot_lists_packages_with_a_stable_digest() -> None:
    snap = environment_snapshot()
    assert any(p.startswith("numpy==") for p in snap.packages)
    assert any(p.startswith("modelyard==") for p in snap.packages)
    assert snap.packages == sorted(set(snap.packages))
    assert all(p == p.lower() and "_" not in p.split("==")[0] for p in snap.packages)
    assert snap.python_version == platform.python_version()
    assert snap.platform == platform.platform()
    assert environment_snapshot() is snap  # cached for the process
    assert environment_snapshot.__wrapped__().digest == snap.digest  # recomputed from scratch
    assert (
        make_snapshot(snap.python_version, snap.platform, list(reversed(snap.packages))).digest == snap.digest
    )
    assert make_snapshot(snap.python_version, snap.platform, [*snap.packages, "zzz==1"]).digest != snap.digest
    assert snap.to_dict()["digest"] == snap.digest and len(snap.digest) == 64


def test_environment_digest_is_the_same_in_another_process() -> None:
    code = "from modelyard.tracking.capture import environment_snapshot; print(environment_snapshot().digest)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == environment_snapshot().digest


def test_environment_digest_ignores_folders_a_library_pushes_onto_sys_path(tmp_path, monkeypatch) -> None:
    vendored = tmp_path / "thirdparty_files" / "psutil-5.9.8.dist-info"  # what Ray does on import
    vendored.mkdir(parents=True)
    (vendored / "METADATA").write_text("Metadata-Version: 2.1\nName: psutil\nVersion: 5.9.8\n")
    environment_snapshot.cache_clear()
    before = environment_snapshot()
    monkeypatch.syspath_prepend(str(vendored.parent))
    environment_snapshot.cache_clear()
    try:
        assert environment_snapshot().digest == before.digest
    finally:
        environment_snapshot.cache_clear()
