"""Convert an MLflow model folder (with an ``MLmodel`` file) into a Modelyard model folder.

Conversion only copies files and reads metadata: it never unpickles anything. Every path
named in ``MLmodel`` must stay inside the folder (no ``..``, no absolute path, no symlink).
A pickled model becomes an unsafe Modelyard model (loads only when trusted). MLflow's own
``skops_trusted_types`` list is ignored: it comes from the same folder as the file it
would vouch for, so Modelyard's trusted-type rules decide instead.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelyard.core.artifacts import safe_relpath
from modelyard.core.errors import InvalidArgument
from modelyard.models.folder import finish, requirement_name, staged_folder
from modelyard.models.manifest import ModelManifest
from modelyard.models.mlflow_meta import read_example, read_requirements, read_signature
from modelyard.models.signature import EXAMPLE_FILE
from modelyard.models.trust import foreign_types

SUPPORTED = "sklearn, xgboost, lightgbm, onnx, and python_function with a pickled python_model"
_XGB_CLASSES = {
    "xgboost.core.Booster": None,
    "xgboost.sklearn.XGBClassifier": "XGBClassifier",
    "xgboost.sklearn.XGBRegressor": "XGBRegressor",
    "xgboost.sklearn.XGBRanker": "XGBRanker",
    "xgboost.sklearn.XGBRFClassifier": "XGBRFClassifier",
    "xgboost.sklearn.XGBRFRegressor": "XGBRFRegressor",
}


@dataclass
class _Plan:
    """What the Modelyard folder will hold and say."""

    flavor: str
    library: str
    library_version: str
    copies: dict[str, Path | bytes] = field(default_factory=dict)  # destination name -> source file or bytes
    unsafe: bool = False
    has_predict_proba: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def import_mlflow(
    mlflow_dir: str | os.PathLike[str], path: str | os.PathLike[str], *, allow_pickle: bool = True
) -> ModelManifest:
    """Convert the MLflow model in ``mlflow_dir`` into a new Modelyard model folder at ``path``.

    Supports sklearn (skops, pickle, cloudpickle), xgboost, lightgbm (Booster text, or a
    scikit-learn wrapper in skops or pickle), onnx, and python_function models with a
    cloudpickled ``python_model``. The signature, input example and requirements come along.

    Raises:
        InvalidArgument: the folder has no readable ``MLmodel``, uses an unsupported flavor,
            names a missing file or a path outside itself, or is a pickle and
            ``allow_pickle`` is false.
    """
    src = Path(mlflow_dir)
    if not src.is_dir():
        raise InvalidArgument(f"No MLflow model folder at {str(src)!r}.")
    mlmodel = _read_mlmodel(src)
    flavors = mlmodel["flavors"]
    plan = _plan(src, flavors, allow_pickle)
    pyfunc = flavors.get("python_function") if isinstance(flavors.get("python_function"), dict) else {}
    keep_mlflow = plan.flavor == "python_function"  # its pickle may refer to mlflow.pyfunc classes
    requirements = [
        r
        for r in read_requirements(_optional(src, "requirements.txt"))
        if keep_mlflow or requirement_name(r) not in ("mlflow", "mlflow-skinny")
    ]
    if not requirements and plan.library_version != "unknown":
        requirements = [f"{plan.library}=={plan.library_version}"]
    example_info = mlmodel.get("saved_input_example_info") or {}
    example_file = (
        _confined(src, example_info["artifact_path"], "input example")
        if isinstance(example_info, dict) and example_info.get("artifact_path")
        else None
    )
    signature = read_signature(mlmodel.get("signature"))
    example = read_example(example_file, example_info) if example_file else None
    plan.extra["mlflow"] = {
        **plan.extra.get("mlflow", {}),
        "flavors": sorted(flavors),
        "mlflow_version": mlmodel.get("mlflow_version"),
        "model_uuid": mlmodel.get("model_uuid"),
        "run_id": mlmodel.get("run_id"),
        "loader_module": pyfunc.get("loader_module"),
    }
    with staged_folder(Path(path)) as tmp:
        for dest, source in plan.copies.items():
            (tmp / dest).parent.mkdir(parents=True, exist_ok=True)
            if isinstance(source, bytes):
                (tmp / dest).write_bytes(source)
            else:
                shutil.copyfile(source, tmp / dest)
        if example is not None:
            (tmp / EXAMPLE_FILE).write_bytes(example)
        fields: dict[str, Any] = (
            {"python_version": str(pyfunc["python_version"])} if pyfunc.get("python_version") else {}
        )
        return finish(
            tmp,
            flavor=plan.flavor,
            library=plan.library,
            library_version=plan.library_version,
            signature=signature,
            input_example=EXAMPLE_FILE if example is not None else None,
            requirements=requirements,
            unsafe=plan.unsafe,
            source="mlflow-import",
            has_predict_proba=plan.has_predict_proba,
            extra=plan.extra,
            **fields,
        )


def _read_mlmodel(src: Path) -> dict[str, Any]:
    file = src / "MLmodel"
    if not file.is_file() or file.is_symlink():
        raise InvalidArgument(
            f"{str(src)!r} is not an MLflow model: it has no MLmodel file. Point at the folder that holds "
            "MLmodel."
        )
    try:
        mlmodel = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"The MLmodel file in {str(src)!r} is not valid YAML: {exc}") from exc
    if (
        not isinstance(mlmodel, dict)
        or not isinstance(mlmodel.get("flavors"), dict)
        or not mlmodel["flavors"]
    ):
        raise InvalidArgument(f"The MLmodel file in {str(src)!r} lists no flavors.")
    return mlmodel


def _confined(src: Path, rel: Any, what: str, *, folder: bool = False) -> Path:
    """``src / rel`` after checking it stays inside ``src`` and exists; raises InvalidArgument."""
    if not isinstance(rel, str) or not rel.strip():
        raise InvalidArgument(f"The MLmodel file does not name the {what}.")
    try:
        clean = safe_relpath(rel.strip().removeprefix("./"))
    except InvalidArgument as exc:
        raise InvalidArgument(
            f"The MLmodel file names the {what} as {rel!r}, outside its folder: {exc.message}"
        ) from exc
    current = src
    for part in clean.split("/"):
        current = current / part
        if current.is_symlink():
            raise InvalidArgument(
                f"The {what} {rel!r} is a symlink; MLflow model files must be regular files inside the "
                "folder."
            )
    if not current.resolve().is_relative_to(src.resolve()):
        raise InvalidArgument(f"The {what} {rel!r} resolves outside the MLflow model folder.")
    if not (current.is_dir() if folder else current.is_file()):
        raise InvalidArgument(f"The MLflow model is broken: its {what} {rel!r} is missing.")
    return current


def _optional(src: Path, rel: str) -> Path | None:
    return _confined(src, rel, rel) if (src / rel).exists() or (src / rel).is_symlink() else None


def _tree(src: Path, rel: Any, what: str) -> dict[str, Path]:
    """Every file under a folder named in MLmodel (or the one file), keyed by its relative path."""
    top = _confined(src, rel, what, folder=(src / str(rel)).is_dir())
    if top.is_file():
        return {top.relative_to(src).as_posix(): top}
    out: dict[str, Path] = {}
    for p in sorted(top.rglob("*")):
        if p.is_symlink():
            raise InvalidArgument(
                f"The {what} holds a symlink ({p.relative_to(src).as_posix()!r}); copy the file instead."
            )
        if p.is_file():
            out[p.relative_to(src).as_posix()] = p
    return out


def _plan(src: Path, flavors: dict[str, Any], allow_pickle: bool) -> _Plan:
    if "sklearn" in flavors:
        conf = _conf(flavors, "sklearn")
        file = _confined(src, conf.get("pickled_model"), "sklearn model file")
        return _sklearn_like(
            file,
            conf.get("serialization_format") or "cloudpickle",
            "scikit-learn",
            str(conf.get("sklearn_version") or "unknown"),
            allow_pickle,
        )
    if "lightgbm" in flavors:
        conf = _conf(flavors, "lightgbm")
        file = _confined(src, conf.get("data"), "LightGBM model file")
        version = str(conf.get("lgb_version") or "unknown")
        if conf.get("model_class", "lightgbm.basic.Booster") == "lightgbm.basic.Booster":
            return _Plan(
                "lightgbm", "lightgbm", version, {"model.txt": file}, extra={"model_file": "model.txt"}
            )
        plan = _sklearn_like(
            file, conf.get("serialization_format") or "cloudpickle", "lightgbm", version, allow_pickle
        )
        plan.has_predict_proba = plan.has_predict_proba or str(conf.get("model_class")).endswith("Classifier")
        return plan
    if "xgboost" in flavors:
        return _xgboost(src, _conf(flavors, "xgboost"))
    if "onnx" in flavors:
        from modelyard.models.mlflow_onnx import onnx_plan

        conf = _conf(flavors, "onnx")
        file = _confined(src, conf.get("data"), "ONNX model file")
        planned = onnx_plan(src, file, lambda rel, what: _confined(src, rel, what))
        return _Plan("onnx", "onnx", str(conf.get("onnx_version") or "unknown"), **planned)
    pyfunc = flavors.get("python_function")
    pyfunc = pyfunc if isinstance(pyfunc, dict) else {}
    if pyfunc.get("python_model"):
        return _python_model(src, pyfunc, allow_pickle)
    others = sorted(set(flavors) - {"python_function"})
    if others:
        raise InvalidArgument(
            f"MLflow flavor {', '.join(repr(f) for f in others)} is not supported: Modelyard imports "
            f"{SUPPORTED}."
        )
    raise InvalidArgument(
        f"This MLflow python_function model loads through its own loader_module "
        f"{pyfunc.get('loader_module')!r}, which Modelyard will not run; it imports {SUPPORTED}."
    )


def _conf(flavors: dict[str, Any], name: str) -> dict[str, Any]:
    conf = flavors[name]
    if not isinstance(conf, dict):
        raise InvalidArgument(f"The MLmodel file's {name} flavor is not a mapping.")
    return conf


def _sklearn_like(file: Path, fmt: str, library: str, version: str, allow_pickle: bool) -> _Plan:
    if fmt == "skops":
        import skops.io as sio

        try:
            foreign = foreign_types(sio.get_untrusted_types(file=file), library)
        except Exception as exc:  # a damaged zip or schema
            raise InvalidArgument(f"The skops file {file.name!r} cannot be read: {exc}") from exc
        extra: dict[str, Any] = {"model_file": "model.skops", "format": "skops"}
        if foreign:
            extra["untrusted_types"] = foreign
        plan = _Plan("sklearn", library, version, {"model.skops": file}, unsafe=bool(foreign), extra=extra)
        if (
            not foreign
        ):  # safe to read by Modelyard's rules: check it loads and whether it gives probabilities
            plan.has_predict_proba = _skops_has_proba(file)
        return plan
    if fmt not in ("pickle", "cloudpickle"):
        raise InvalidArgument(
            f"The MLflow model uses serialization format {fmt!r}; supported: skops, pickle, cloudpickle."
        )
    if not allow_pickle:
        raise InvalidArgument(
            f"This MLflow model is a {fmt} file, which runs code when loaded; pass allow_pickle=True to "
            "import it as an unsafe model (it will then load only when trusted)."
        )
    return _Plan(
        "sklearn",
        library,
        version,
        {"model.pkl": file},
        unsafe=True,
        extra={"model_file": "model.pkl", "format": fmt},
    )


def _skops_has_proba(file: Path) -> bool:
    import skops.io as sio

    try:
        est = sio.load(file, trusted=sio.get_untrusted_types(file=file))
    except ImportError:
        return False  # the model's library is not installed here; loading will say so
    except Exception as exc:
        raise InvalidArgument(f"The skops file {file.name!r} cannot be loaded: {exc}") from exc
    return hasattr(est, "predict_proba")


def _xgboost(src: Path, conf: dict[str, Any]) -> _Plan:
    model_class = conf.get("model_class", "xgboost.core.Booster")
    if model_class not in _XGB_CLASSES:
        raise InvalidArgument(
            f"The MLflow XGBoost model class {model_class!r} is not supported: use one of "
            f"{', '.join(_XGB_CLASSES)}."
        )
    file = _confined(src, conf.get("data"), "XGBoost model file")
    with file.open("rb") as f:
        head = f.read(64).lstrip()
    if not head.startswith(b"{"):
        raise InvalidArgument(
            f"The XGBoost file {file.name!r} is in XGBoost's old binary format; load it with the XGBoost "
            "version that wrote it and save it as .ubj or .json."
        )
    dest = "model.json" if head.startswith(b'{"') else "model.ubj"  # xgboost picks the parser by extension
    extra: dict[str, Any] = {"model_file": dest}
    if _XGB_CLASSES[model_class]:
        extra["wrapper"] = _XGB_CLASSES[model_class]
    return _Plan(
        "xgboost",
        "xgboost",
        str(conf.get("xgb_version") or "unknown"),
        {dest: file},
        has_predict_proba="Classifier" in model_class,
        extra=extra,
    )


def _python_model(src: Path, pyfunc: dict[str, Any], allow_pickle: bool) -> _Plan:
    rel = pyfunc["python_model"]
    if isinstance(rel, str) and rel.endswith(".py"):
        raise InvalidArgument(
            "MLflow 'models from code' (a python_model .py file) are not supported: they run the "
            "file's code to build the model."
        )
    file = _confined(src, rel, "python_model file")
    if not allow_pickle:
        raise InvalidArgument(
            "This MLflow python model is a cloudpickle file, which runs code when loaded; pass "
            "allow_pickle=True to import it as an unsafe model."
        )
    copies: dict[str, Path | bytes] = {"python_model.pkl": file}
    info: dict[str, Any] = {"python_model": "python_model.pkl"}
    artifacts = pyfunc.get("artifacts") or {}
    if isinstance(artifacts, dict) and artifacts:
        info["artifacts"] = {}
        for name, spec in artifacts.items():
            rel_path = spec.get("path") if isinstance(spec, dict) else spec
            copies.update(_tree(src, rel_path, f"artifact {name!r}"))
            info["artifacts"][str(name)] = safe_relpath(str(rel_path).strip().removeprefix("./"))
    if pyfunc.get("code"):
        copies.update(_tree(src, pyfunc["code"], "code folder"))
        info["code_dir"] = safe_relpath(str(pyfunc["code"]))
    if isinstance(pyfunc.get("model_config"), dict):
        info["model_config"] = pyfunc["model_config"]
    return _Plan(
        "python_function",
        "cloudpickle",
        str(pyfunc.get("cloudpickle_version") or "unknown"),
        copies,
        unsafe=True,
        extra={"model_file": "python_model.pkl", "format": "cloudpickle", "mlflow": info},
    )
