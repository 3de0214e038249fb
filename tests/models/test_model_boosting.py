"""XGBoost and LightGBM in their native formats: Boosters and scikit-learn wrappers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from modelkit import regression_table, table

from modelyard import models
from modelyard.core.errors import InvalidArgument


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray]:
    return table()


def test_xgboost_classifier_round_trip(tmp_path: Path, data) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = data
    model = xgb.XGBClassifier(n_estimators=15, max_depth=3).fit(X, y)
    manifest = models.save(model, tmp_path / "m", input_example=X.head(4))
    assert manifest.flavor == "xgboost" and manifest.library_version == xgb.__version__
    assert manifest.extra == {"model_file": "model.ubj", "wrapper": "XGBClassifier"}
    assert manifest.unsafe is False and manifest.has_predict_proba
    assert f"xgboost=={xgb.__version__}" in manifest.requirements
    loaded = models.load(tmp_path / "m")
    assert type(loaded.raw) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_allclose(loaded.predict_proba(X.to_numpy()), model.predict_proba(X))


def test_xgboost_regressor_and_booster(tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = regression_table()
    reg = xgb.XGBRegressor(n_estimators=10).fit(X, y)
    models.save(reg, tmp_path / "reg")
    np.testing.assert_allclose(models.load(tmp_path / "reg").predict(X), reg.predict(X))

    booster = xgb.train({"objective": "reg:squarederror"}, xgb.DMatrix(X.to_numpy(), y), 10)
    manifest = models.save(booster, tmp_path / "booster", input_example=X.to_numpy()[:3])
    assert "wrapper" not in manifest.extra and not manifest.has_predict_proba
    loaded = models.load(tmp_path / "booster")
    assert isinstance(loaded.raw, xgb.Booster)
    expected = booster.predict(xgb.DMatrix(X.to_numpy()))
    np.testing.assert_allclose(loaded.predict(X.to_numpy()), expected)
    np.testing.assert_allclose(loaded.predict(X), expected)  # names dropped for a model trained without them
    with pytest.raises(InvalidArgument, match="no predict_proba"):
        loaded.predict_proba(X)


def test_xgboost_named_booster_maps_arrays_to_its_features(tmp_path: Path, data) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = data
    booster = xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(X, y), 8)
    manifest = models.save(booster, tmp_path / "m")  # no example: the booster's feature names
    assert manifest.signature.column_names == ["income", "debt", "age"]
    loaded = models.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict(X.to_numpy()), booster.predict(xgb.DMatrix(X)))


def test_native_files_give_a_stable_digest(tmp_path: Path, data) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = data
    model = xgb.XGBClassifier(n_estimators=5).fit(X, y)
    first = models.save(model, tmp_path / "a")
    again = models.save(model, tmp_path / "b")
    other = models.save(xgb.XGBClassifier(n_estimators=6).fit(X, y), tmp_path / "c")
    assert first.digest == again.digest != other.digest


def test_lightgbm_classifier_with_string_labels(tmp_path: Path, data) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = data
    labels = np.where(y == 1, "default", "repaid")
    model = lgb.LGBMClassifier(n_estimators=20, verbose=-1).fit(X, labels)
    manifest = models.save(model, tmp_path / "m", input_example=X.head(3))
    assert manifest.flavor == "lightgbm" and manifest.library_version == lgb.__version__
    assert manifest.extra["wrapper"]["classes"] == ["default", "repaid"]
    assert manifest.signature.outputs[0].type == "string"
    loaded = models.load(tmp_path / "m")
    assert type(loaded.raw) is lgb.LGBMClassifier
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.raw.classes_, model.classes_)


def test_lightgbm_multiclass_regressor_and_booster(tmp_path: Path, data) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, _ = data
    y3 = np.digitize(X.income, [45, 55])
    clf = lgb.LGBMClassifier(n_estimators=10, verbose=-1).fit(X.to_numpy(), y3)
    models.save(clf, tmp_path / "multi", input_example=X.to_numpy()[:2])
    loaded = models.load(tmp_path / "multi")
    np.testing.assert_allclose(loaded.predict_proba(X.to_numpy()), clf.predict_proba(X.to_numpy()))
    np.testing.assert_array_equal(loaded.predict(X.to_numpy()), clf.predict(X.to_numpy()))

    Xr, yr = regression_table()
    reg = lgb.LGBMRegressor(n_estimators=10, verbose=-1).fit(Xr, yr)
    models.save(reg, tmp_path / "reg")
    np.testing.assert_allclose(models.load(tmp_path / "reg").predict(Xr), reg.predict(Xr))

    booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, (y3 > 0).astype(int)), 10)
    manifest = models.save(booster, tmp_path / "booster")
    assert set(manifest.files) == {"model.txt"} and manifest.signature.column_names == [
        "income",
        "debt",
        "age",
    ]
    np.testing.assert_allclose(models.load(tmp_path / "booster").predict(X), booster.predict(X))


def test_forcing_a_flavor_that_does_not_fit_is_refused(tmp_path: Path, data) -> None:
    pytest.importorskip("xgboost")
    from sklearn.linear_model import LogisticRegression

    X, y = data
    with pytest.raises(InvalidArgument, match="xgboost flavor"):
        models.save(LogisticRegression().fit(X, y), tmp_path / "m", flavor="xgboost")
    with pytest.raises(InvalidArgument, match="Unknown model flavor 'keras'"):
        models.save(LogisticRegression().fit(X, y), tmp_path / "m", flavor="keras")
    assert not (tmp_path / "m").exists()
