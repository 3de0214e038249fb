"""The prediction log: captured predictions and actuals as Parquet segments, read with DuckDB.

Write: :class:`CaptureWriter` (serving's hot path) and :func:`write_actuals`. Read:
:func:`scan` / :func:`iter_batches` (a time window, optionally joined with the latest actuals),
:func:`counts`, :func:`compare_variants`. Replay a challenger on stored traffic: :func:`replay`.
Layout and columns: :mod:`modelyard.serving.predlog.layout`.
"""

from modelyard.serving.predlog.actuals import write_actuals
from modelyard.serving.predlog.compare import compare_variants
from modelyard.serving.predlog.layout import ACTUALS, INPUT_PREFIX, PREDICTIONS
from modelyard.serving.predlog.reader import connect, counts, input_columns, iter_batches, scan, segments
from modelyard.serving.predlog.replay import replay, replay_variant
from modelyard.serving.predlog.writer import CaptureWriter

__all__ = [
    "ACTUALS",
    "INPUT_PREFIX",
    "PREDICTIONS",
    "CaptureWriter",
    "compare_variants",
    "connect",
    "counts",
    "input_columns",
    "iter_batches",
    "replay",
    "replay_variant",
    "scan",
    "segments",
    "write_actuals",
]
