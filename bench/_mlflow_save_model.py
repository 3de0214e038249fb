"""Save the serving benchmark's model as an MLflow model; runs with the python of the MLflow venv.

Usage: ``python _mlflow_save_model.py '<json config>'``. Config keys: model_pickle (the
fitted scikit-learn model, pickled by the benchmark), sklearn_version (the version that
pickled it), train_x / train_y (.npy files it was fitted on), params (its constructor
arguments), columns (feature names), out (the MLflow model folder to write).

When this venv's scikit-learn is the benchmark's, the very same fitted object is saved;
otherwise (a pickle does not travel between versions) it refits with the same arguments on
the same data, and the benchmark's answer check tells whether the two still agree.
The pyfunc flavor answers with ``predict_proba``, the probabilities Modelyard returns as scores;
the file format is MLflow 3's default (skops).
"""

from __future__ import annotations

import contextlib
import json
import pickle
import sys
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pandas as pd
import sklearn
import skops.io
from _common import log
from mlflow.models import infer_signature
from sklearn.ensemble import GradientBoostingClassifier


def main() -> None:
    config = json.loads(sys.argv[1])
    x = pd.DataFrame(np.load(config["train_x"]), columns=config["columns"])
    if sklearn.__version__ == config["sklearn_version"]:
        model = pickle.loads(Path(config["model_pickle"]).read_bytes())
    else:
        log(
            f"the MLflow venv has scikit-learn {sklearn.__version__}, the benchmark "
            f"{config['sklearn_version']}: refitting the same model on the same data"
        )
        model = GradientBoostingClassifier(**config["params"]).fit(x, np.load(config["train_y"]))
    example = x.iloc[:5]
    signature = infer_signature(example, model.predict_proba(example))
    with contextlib.redirect_stdout(sys.stderr):
        mlflow.sklearn.save_model(
            model,
            config["out"],
            signature=signature,
            input_example=example,
            pyfunc_predict_fn="predict_proba",
            # MLflow 3 saves with skops and asks which types to trust on load: the benchmark
            # fitted this model itself, so every type skops reports is trusted.
            skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(model)),
        )


if __name__ == "__main__":
    main()
