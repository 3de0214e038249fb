"""``save`` and ``load``: a model object to a self-describing folder and back.

A saved model is a folder::

    model.skops | model.ubj | model.txt | model.pt | model.onnx | model.pkl | python_model.pkl
    input_example.json   (optional)
    MODEL.json           (the manifest: flavor, signature, requirements, file digests, ...)

``load`` checks every file against the manifest's SHA-256 before a library reads it, then
checks trust: formats that run code when read (pickle) load only with ``trust=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from modelyard.core.errors import InvalidArgument, ModelyardError
from modelyard.models.flavors import detect_flavor, get_flavor
from modelyard.models.flavors.base import Flavor, Saved, SaveOptions, pin
from modelyard.models.folder import finish, merge_requirements, staged_folder
from modelyard.models.loaded import LoadedModel
from modelyard.models.manifest import ModelManifest, Signature, read_manifest, verify_files
from modelyard.models.signature import (
    EXAMPLE_FILE,
    Example,
    example_from_json,
    example_to_json,
    infer_signature,
    normalize_example,
    output_spec,
    prepare_input,
)
from modelyard.models.trust import PICKLE_MESSAGE, require_trust, skops_message


def save(
    model: Any,
    path: str | os.PathLike[str],
    *,
    flavor: str | None = None,
    input_example: Any = None,
    requirements: list[str] | None = None,
    allow_pickle: bool = True,
) -> ModelManifest:
    """Save a model in its flavor's safest format, with a manifest, into a new folder.

    Args:
        model: a scikit-learn estimator, XGBoost or LightGBM model, ``torch.nn.Module``,
            ``onnx.ModelProto`` (or ``.onnx`` path), or any object with ``predict``.
        path: a folder that does not exist yet or is empty.
        flavor: force a flavor (``sklearn``, ``xgboost``, ``lightgbm``, ``pytorch``, ``onnx``,
            ``python_function``); detected from the object when omitted.
        input_example: a few rows (DataFrame, dict of columns or array); gives the signature
            and is stored (first 10 rows) as ``input_example.json``.
        requirements: extra pip lines; they replace detected pins of the same package.
        allow_pickle: allow cloudpickle where no safe format fits (the model is then unsafe).

    Raises:
        InvalidArgument: the folder is not empty, the model cannot be stored, or it cannot
            predict on the input example. Nothing is left at ``path`` then.
    """
    chosen = get_flavor(flavor) if flavor else detect_flavor(model)
    example = normalize_example(input_example)
    with staged_folder(Path(path)) as tmp:
        saved = _flavor_save(chosen, model, tmp, SaveOptions(example=example, allow_pickle=allow_pickle))
        signature = _signature(saved, example)
        if example is not None:
            (tmp / EXAMPLE_FILE).write_bytes(example_to_json(example))
        detected = saved.requirements + (pin("pandas") if isinstance(example, pd.DataFrame) else [])
        return finish(
            tmp,
            flavor=chosen.name,
            library=saved.library,
            library_version=saved.library_version,
            signature=signature,
            input_example=EXAMPLE_FILE if example is not None else None,
            requirements=merge_requirements(list(dict.fromkeys(detected)), requirements),
            unsafe=saved.unsafe,
            source="modelyard",
            has_predict_proba=saved.predictor.predict_proba is not None,
            extra=saved.extra,
        )


def _flavor_save(flavor: Flavor, model: Any, folder: Path, opts: SaveOptions) -> Saved:
    try:
        return flavor.save(model, folder, opts)
    except ModelyardError:
        raise
    except ImportError as exc:
        raise ModelyardError(
            f"Saving a {flavor.name} model needs the {exc.name!r} package: pip install it."
        ) from exc
    except Exception as exc:  # a library's own error about this object: say which step failed
        raise InvalidArgument(
            f"Could not save the model with the {flavor.name} flavor: {type(exc).__name__}: {exc}"
        ) from exc


def _signature(saved: Saved, example: Example | None) -> Signature | None:
    if example is None:
        return Signature(inputs=saved.inputs, input_kind=saved.input_kind) if saved.inputs else None
    signature = infer_signature(example) or Signature()
    try:
        outputs = saved.predictor.predict(prepare_input(example, signature))
    except ModelyardError:
        raise
    except Exception as exc:
        raise InvalidArgument(
            f"The model cannot predict on its input example ({type(exc).__name__}: {exc}); pass an example "
            "shaped like the data it was trained on."
        ) from exc
    signature.outputs = output_spec(outputs)
    return signature


def load(path: str | os.PathLike[str], *, trust: bool = False) -> LoadedModel:
    """Load a model folder after checking its files against the manifest.

    Args:
        path: a folder written by ``save`` or ``import_mlflow``.
        trust: allow formats that run code when loaded (pickle); pass it only for models
            from authors you trust (the registry passes it for versions marked trusted).

    Raises:
        NotFound: there is no folder at ``path``.
        InvalidArgument: the manifest is broken or a file is missing or was changed.
        PermissionDenied: the model needs ``trust=True``.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    verify_files(folder, manifest)
    flavor = get_flavor(manifest.flavor)
    if manifest.unsafe:
        fmt = manifest.extra.get("format")
        require_trust(
            trust,
            skops_message(list(manifest.extra.get("untrusted_types") or ["unknown"]))
            if fmt == "skops"
            else PICKLE_MESSAGE,
        )
    try:
        predictor = flavor.load(folder, manifest, trust)
    except ModelyardError:
        raise
    except ImportError as exc:
        raise ModelyardError(
            f"Loading this {flavor.name} model needs the Python module {exc.name!r}, which is not installed "
            f"(the model was saved with {manifest.library}=={manifest.library_version})."
        ) from exc
    except Exception as exc:  # the library rejected the (verified) file: it is not what the manifest says
        raise InvalidArgument(
            f"The {flavor.name} model in {str(folder)!r} could not be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    example = None
    if manifest.input_example and manifest.input_example in manifest.files:
        example = example_from_json((folder / manifest.input_example).read_bytes(), manifest.signature)
    return LoadedModel(manifest, predictor, path=folder, example=example)
