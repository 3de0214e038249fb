"""Custom python models, and model folders that are broken or tampered with."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from modelkit import ThresholdModel, table
from sklearn.linear_model import LogisticRegression

from modelyard import models
from modelyard.core.errors import InvalidArgument, NotFound, PermissionDenied


def test_custom_python_model_is_unsafe_and_loads_only_when_trusted(tmp_path: Path) -> None:
    X, _ = table()
    model = ThresholdModel("income", 50.0)
    manifest = models.save(model, tmp_path / "m", input_example=X.head(3))
    assert manifest.flavor == "python_function" and manifest.unsafe and manifest.has_predict_proba
    assert manifest.extra["class"] == "modelkit.ThresholdModel"
    assert set(manifest.files) == {"python_model.pkl", "input_example.json"}
    with pytest.raises(PermissionDenied) as err:
        models.load(tmp_path / "m")
    assert err.value.message == (
        "This model was stored with pickle, which can run arbitrary code when loaded. Load it only if you trust "
        "its author: mark the version trusted in the registry, or pass trust=True."
    )
    loaded = models.load(tmp_path / "m", trust=True)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(InvalidArgument, match="missing column 'income'"):
        loaded.predict(X.drop(columns=["income"]))


def test_custom_python_model_needs_allow_pickle(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="allow_pickle=True"):
        models.save(ThresholdModel("income", 1.0), tmp_path / "m", allow_pickle=False)
    with pytest.raises(InvalidArgument, match="Cannot tell how to save"):
        models.save(object(), tmp_path / "m")
    assert not (tmp_path / "m").exists()


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    X, y = table()
    models.save(LogisticRegression().fit(X, y), tmp_path / "m", input_example=X.head(2))
    return tmp_path / "m"


def test_missing_folder_and_missing_manifest(tmp_path: Path, saved: Path) -> None:
    with pytest.raises(NotFound, match="No model folder"):
        models.load(tmp_path / "nope")
    (saved / "MODEL.json").unlink()
    with pytest.raises(InvalidArgument, match=r"has no MODEL\.json"):
        models.read_manifest(saved)


def test_missing_or_replaced_files_are_named(saved: Path, tmp_path: Path) -> None:
    (saved / "input_example.json").unlink()
    with pytest.raises(InvalidArgument, match=r"'input_example\.json' is missing"):
        models.load(saved)
    outside = tmp_path / "outside.json"
    outside.write_text("[]")
    os.symlink(outside, saved / "input_example.json")
    with pytest.raises(InvalidArgument, match=r"'input_example\.json' .* resolves outside its folder"):
        models.load(saved)


def test_manifest_edits_are_caught(saved: Path) -> None:
    raw = json.loads((saved / "MODEL.json").read_text())
    bad_path = {**raw, "files": {**raw["files"], "../etc/passwd": "0" * 64}}
    (saved / "MODEL.json").write_text(json.dumps(bad_path))
    with pytest.raises(InvalidArgument, match="is broken: files"):
        models.read_manifest(saved)
    dropped = {
        **raw,
        "files": {"model.skops": raw["files"]["model.skops"]},
    }  # digest no longer matches the list
    (saved / "MODEL.json").write_text(json.dumps(dropped))
    with pytest.raises(InvalidArgument, match="manifest digest does not match"):
        models.load(saved)
    (saved / "MODEL.json").write_text(json.dumps({**raw, "format_version": 7}))
    with pytest.raises(InvalidArgument, match="upgrade modelyard"):
        models.read_manifest(saved)
    (saved / "MODEL.json").write_text(json.dumps({**raw, "flavor": "keras"}))
    with pytest.raises(InvalidArgument, match="Unknown model flavor 'keras'"):
        models.load(saved)
    (saved / "MODEL.json").write_text("{not json")
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        models.read_manifest(saved)


def test_saving_onto_a_file_is_refused(tmp_path: Path) -> None:
    X, y = table()
    (tmp_path / "taken").write_text("x")
    with pytest.raises(InvalidArgument, match="a file is already there"):
        models.save(LogisticRegression().fit(X, y), tmp_path / "taken")
