"""scikit-learn models: skops round trips, manifest, input shaping, pickle fallback and trust."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from modelkit import Doubler, table
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from modelyard import models
from modelyard.core.errors import InvalidArgument, PermissionDenied
from modelyard.models.manifest import combined_digest, sha256_file


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return table()


def test_random_forest_round_trip_gives_identical_predictions(tmp_path: Path, data) -> None:
    X, y = data
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    manifest = models.save(model, tmp_path / "rf", input_example=X.head(5))
    loaded = models.load(tmp_path / "rf")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert manifest.flavor == "sklearn" and manifest.unsafe is False and manifest.has_predict_proba
    assert type(loaded.raw) is RandomForestClassifier
    assert sorted(p.name for p in (tmp_path / "rf").iterdir()) == [
        "MODEL.json",
        "input_example.json",
        "model.skops",
    ]


def test_manifest_describes_the_model_without_loading_it(tmp_path: Path, data) -> None:
    import sklearn

    X, y = data
    saved = models.save(
        make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y),
        tmp_path / "m",
        input_example=X.head(3),
        requirements=["my-features==1.2"],
    )
    manifest = models.read_manifest(tmp_path / "m")
    assert manifest == saved
    assert manifest.library == "scikit-learn" and manifest.library_version == sklearn.__version__
    assert manifest.signature is not None and manifest.signature.input_kind == "dataframe"
    assert [(c.name, c.type) for c in manifest.signature.inputs] == [
        ("income", "float64"),
        ("debt", "float64"),
        ("age", "float64"),
    ]
    assert manifest.signature.outputs[0].type == "int64"
    assert f"scikit-learn=={sklearn.__version__}" in manifest.requirements
    assert any(r.startswith("skops==") for r in manifest.requirements)
    assert manifest.requirements[-1] == "my-features==1.2"
    folder = tmp_path / "m"
    assert manifest.files == {
        name: sha256_file(folder / name) for name in ("model.skops", "input_example.json")
    }
    assert manifest.size_bytes == sum((folder / name).stat().st_size for name in manifest.files)
    assert manifest.digest == combined_digest(manifest.files)
    assert json.loads((folder / "MODEL.json").read_text())["digest"] == manifest.digest
    assert manifest.source == "modelyard" and manifest.created_at > 1_600_000_000_000


def test_digest_changes_with_the_model(tmp_path: Path, data) -> None:
    X, y = data
    a = models.save(LogisticRegression(C=1.0).fit(X, y), tmp_path / "a")
    b = models.save(LogisticRegression(C=0.01).fit(X, y), tmp_path / "b")
    assert a.digest != b.digest
    assert models.read_manifest(tmp_path / "a").digest == a.digest  # stable once written


def test_user_requirement_replaces_the_detected_pin(tmp_path: Path, data) -> None:
    X, y = data
    manifest = models.save(LogisticRegression().fit(X, y), tmp_path / "m", requirements=["scikit-learn>=1.4"])
    assert [r for r in manifest.requirements if r.startswith("scikit-learn")] == ["scikit-learn>=1.4"]
    with pytest.raises(InvalidArgument, match="Requirement"):
        models.save(LogisticRegression().fit(X, y), tmp_path / "bad", requirements=["ok==1\nevil"])


def test_inputs_are_shaped_by_the_signature(tmp_path: Path, data) -> None:
    X, y = data
    model = LogisticRegression().fit(X, y)
    models.save(model, tmp_path / "m", input_example=X.head(3))
    loaded = models.load(tmp_path / "m")
    expected = model.predict(X)
    np.testing.assert_array_equal(loaded.predict(X.to_numpy()), expected)  # array: columns by position
    np.testing.assert_array_equal(loaded.predict(X[["age", "income", "debt"]]), expected)  # reordered
    np.testing.assert_array_equal(loaded.predict(X.assign(extra=1)), expected)  # extra column ignored
    np.testing.assert_array_equal(loaded.predict({c: X[c].to_list() for c in X.columns}), expected)
    with pytest.raises(InvalidArgument, match="missing column 'debt'"):
        loaded.predict(X.drop(columns=["debt"]))
    with pytest.raises(InvalidArgument, match="expects 3 input columns"):
        loaded.predict(X.to_numpy()[:, :2])


def test_feature_names_give_a_signature_without_an_example(tmp_path: Path, data) -> None:
    X, y = data
    model = LogisticRegression().fit(X, y)
    manifest = models.save(model, tmp_path / "m")
    assert manifest.input_example is None
    assert manifest.signature.column_names == ["income", "debt", "age"]
    np.testing.assert_array_equal(models.load(tmp_path / "m").predict(X.to_numpy()), model.predict(X))


def test_model_fitted_on_arrays_takes_arrays_and_frames(tmp_path: Path, data) -> None:
    X, y = data
    model = LinearRegression().fit(X.to_numpy(), y)
    manifest = models.save(model, tmp_path / "m", input_example=X.to_numpy()[:4])
    assert manifest.signature.input_kind == "array" and manifest.signature.inputs[0].shape == [-1, 3]
    loaded = models.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X.to_numpy()), model.predict(X.to_numpy()))
    np.testing.assert_allclose(loaded.predict(X), model.predict(X.to_numpy()))
    assert isinstance(loaded.input_example(), np.ndarray) and loaded.input_example().shape == (4, 3)
    with pytest.raises(InvalidArgument, match="predict_proba"):
        loaded.predict_proba(X)


def test_saving_into_a_non_empty_folder_is_refused(tmp_path: Path, data) -> None:
    X, y = data
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(InvalidArgument, match="not empty"):
        models.save(LogisticRegression().fit(X, y), target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    empty = tmp_path / "empty"
    empty.mkdir()
    models.save(LogisticRegression().fit(X, y), empty)  # an empty folder is fine
    assert (empty / "MODEL.json").is_file()


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path, data) -> None:
    X, y = data
    model = LogisticRegression().fit(X, y)
    with pytest.raises(InvalidArgument, match="cannot predict on its input example"):
        models.save(model, tmp_path / "m", input_example=pd.DataFrame({"x": ["a", "b"]}))
    assert list(tmp_path.iterdir()) == []


def test_tampered_file_is_named_and_refused(tmp_path: Path, data) -> None:
    X, y = data
    models.save(LogisticRegression().fit(X, y), tmp_path / "m", input_example=X.head(2))
    weights = tmp_path / "m" / "model.skops"
    weights.write_bytes(weights.read_bytes() + b"\0")
    with pytest.raises(InvalidArgument, match=r"'model\.skops' does not match the digest"):
        models.load(tmp_path / "m")


def test_custom_class_stays_skops_but_needs_trust(tmp_path: Path, data) -> None:
    X, y = data
    model = make_pipeline(Doubler(), LogisticRegression()).fit(X, y)
    manifest = models.save(model, tmp_path / "m")
    assert manifest.extra["format"] == "skops" and manifest.unsafe is True
    assert manifest.extra["untrusted_types"] == ["modelkit.Doubler"]
    with pytest.raises(PermissionDenied, match=r"modelkit\.Doubler.*pass trust=True"):
        models.load(tmp_path / "m")
    loaded = models.load(tmp_path / "m", trust=True)
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_code_skops_cannot_find_again_falls_back_to_cloudpickle(tmp_path: Path, data) -> None:
    X, y = data
    model = make_pipeline(FunctionTransformer(lambda v: np.asarray(v) * 2), LogisticRegression()).fit(X, y)
    manifest = models.save(model, tmp_path / "m", input_example=X.head(3))
    assert manifest.unsafe is True and manifest.extra["format"] == "cloudpickle"
    assert set(manifest.files) == {"model.pkl", "input_example.json"}
    assert any(r.startswith("cloudpickle==") for r in manifest.requirements)
    with pytest.raises(PermissionDenied) as err:
        models.load(tmp_path / "m")
    assert err.value.message == models.PICKLE_MESSAGE
    assert "pass trust=True" in err.value.message and "mark the version trusted" in err.value.message
    loaded = models.load(tmp_path / "m", trust=True)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_pickle_fallback_can_be_forbidden(tmp_path: Path, data) -> None:
    X, y = data
    model = make_pipeline(FunctionTransformer(lambda v: v), LogisticRegression()).fit(X, y)
    with pytest.raises(InvalidArgument, match="allow_pickle=True"):
        models.save(model, tmp_path / "m", allow_pickle=False)
    assert not (tmp_path / "m").exists()
