"""Dataset descriptions for log_input: digests, schema, row counts and profiles."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from modelyard.core.errors import InvalidArgument
from modelyard.tracking.datasets import PROFILE_COLUMNS, describe_dataset


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": [1.0, 2.0, np.nan, 4.0, 10.0],
            "n": [3, 1, 4, 1, 5],
            "city": ["oslo", "rome", "oslo", None, "oslo"],
            "flag": [True, False, True, True, False],
        }
    )


def test_same_frame_gives_same_digest_and_a_valid_description() -> None:
    a, b = describe_dataset(_frame()), describe_dataset(_frame())
    assert a.digest == b.digest
    assert len(a.digest) == 64 and int(a.digest, 16) >= 0
    assert (a.name, a.source_type, a.source) == ("dataset", "pandas", "")
    assert (a.num_rows, a.num_columns) == (5, 4)
    assert [c["name"] for c in a.schema] == ["x", "n", "city", "flag"]
    assert a.schema[0]["type"] == "float64" and a.schema[1]["type"] == "int64"
    json.dumps(a.to_dict(), allow_nan=False)  # strictly JSON-serialisable
    assert a.to_dict()["profile"] == a.profile


def test_digest_is_the_same_in_another_process() -> None:
    code = (
        "import numpy as np, pandas as pd\n"
        "from modelyard.tracking.datasets import describe_dataset\n"
        "df = pd.DataFrame({'x': [1.0, 2.0, np.nan, 4.0, 10.0], 'n': [3, 1, 4, 1, 5],\n"
        "    'city': ['oslo', 'rome', 'oslo', None, 'oslo'], 'flag': [True, False, True, True, False]})\n"
        "print(describe_dataset(df).digest)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == describe_dataset(_frame()).digest


def test_changed_cell_reordered_rows_renamed_column_or_dtype_change_the_digest() -> None:
    base = describe_dataset(_frame()).digest
    changed = _frame()
    changed.loc[1, "x"] = 2.5
    reordered = _frame().iloc[::-1].reset_index(drop=True)
    renamed = _frame().rename(columns={"city": "town"})
    retyped = _frame().astype({"n": "float64"})
    digests = {base} | {describe_dataset(f).digest for f in (changed, reordered, renamed, retyped)}
    assert len(digests) == 5


def test_series_is_a_one_column_frame() -> None:
    desc = describe_dataset(pd.Series([1, 2, 3], name="age"), name="ages")
    assert (desc.name, desc.num_rows, desc.num_columns) == ("ages", 3, 1)
    assert desc.schema == [{"name": "age", "type": "int64"}]


def test_profile_numbers_agree_with_numpy() -> None:
    df = _frame()
    x = df["x"].to_numpy()
    prof = describe_dataset(df).profile["x"]
    assert prof["kind"] == "numeric"
    assert prof["missing"] == 1
    assert prof["min"] == np.nanmin(x) and prof["max"] == np.nanmax(x)
    assert prof["mean"] == pytest.approx(np.nanmean(x))
    assert prof["std"] == pytest.approx(np.nanstd(x, ddof=1))
    for key, q in (("p05", 5), ("p50", 50), ("p95", 95)):
        assert prof[key] == pytest.approx(np.nanpercentile(x, q))


def test_all_missing_numeric_column_has_none_stats() -> None:
    prof = describe_dataset(pd.DataFrame({"e": [np.nan, np.nan]})).profile["e"]
    assert prof["missing"] == 2
    assert all(prof[k] is None for k in ("min", "max", "mean", "std", "p05", "p50", "p95"))


def test_categorical_and_boolean_top_values() -> None:
    profile = describe_dataset(_frame()).profile
    city = profile["city"]
    assert city["kind"] == "categorical"
    assert city["missing"] == 1 and city["distinct"] == 2
    assert city["top"] == [["oslo", 3], ["rome", 1]]
    flag = profile["flag"]
    assert flag["kind"] == "categorical"
    assert flag["top"] == [["True", 3], ["False", 2]]


def test_categorical_top_is_capped_at_ten() -> None:
    df = pd.DataFrame({"k": [f"v{i % 25}" for i in range(1000)]})
    prof = describe_dataset(df).profile["k"]
    assert prof["distinct"] == 25 and len(prof["top"]) == 10


def test_wide_frame_profile_says_it_was_truncated() -> None:
    wide = pd.DataFrame(np.zeros((3, PROFILE_COLUMNS + 7)))
    desc = describe_dataset(wide)
    assert desc.num_columns == PROFILE_COLUMNS + 7 and len(desc.schema) == PROFILE_COLUMNS + 7
    assert desc.profile["truncated_columns"] == 7
    assert len(desc.profile) == PROFILE_COLUMNS + 1


def test_profile_uses_a_sample_but_counts_and_hashes_every_row() -> None:
    df = pd.DataFrame({"v": np.arange(250_000, dtype=np.float64)})
    desc = describe_dataset(df)
    assert desc.num_rows == 250_000
    assert desc.profile["v"]["max"] == 99_999.0  # first 100,000 rows profiled
    tail_changed = df.copy()
    tail_changed.iloc[-1, 0] = -1.0
    assert describe_dataset(tail_changed).digest != desc.digest


def test_numpy_arrays_are_described_and_hashed_stably() -> None:
    arr = np.arange(12, dtype=np.float32).reshape(4, 3)
    desc = describe_dataset(arr)
    assert desc.digest == describe_dataset(arr.copy()).digest
    assert desc.digest == describe_dataset(np.asfortranarray(arr)).digest  # same values, same digest
    assert (desc.source_type, desc.num_rows, desc.num_columns) == ("numpy", 4, 3)
    assert [c["name"] for c in desc.schema] == ["0", "1", "2"]
    assert desc.schema[0]["type"] == "float32"
    assert desc.profile["1"]["min"] == 1.0 and desc.profile["1"]["max"] == 10.0
    changed = arr.copy()
    changed[3, 2] = 0
    assert describe_dataset(changed).digest != desc.digest
    assert describe_dataset(arr.astype(np.float64)).digest != desc.digest
    assert describe_dataset(arr.reshape(3, 4)).digest != desc.digest
    one_d = describe_dataset(np.array([3, 1, 2]))
    assert (one_d.num_rows, one_d.num_columns, one_d.schema[0]["name"]) == (3, 1, "0")


def test_numpy_object_arrays_hash_by_value() -> None:
    a = np.array(["a", "b", None], dtype=object)
    b = np.array(["a", "b", None], dtype=object)
    assert describe_dataset(a).digest == describe_dataset(b).digest
    assert describe_dataset(a).digest != describe_dataset(np.array(["a", "c", None], dtype=object)).digest


def test_numpy_shapes_that_are_not_tables_are_rejected() -> None:
    with pytest.raises(InvalidArgument, match="1-D or 2-D"):
        describe_dataset(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidArgument, match="structured"):
        describe_dataset(np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]))


def test_csv_file(tmp_path: Path) -> None:
    path = tmp_path / "train.csv"
    _frame().to_csv(path, index=False)
    desc = describe_dataset(path)
    assert desc.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert desc.digest == describe_dataset(str(path)).digest
    assert (desc.name, desc.source_type, desc.source) == ("train.csv", "file", str(path.resolve()))
    assert (desc.num_rows, desc.num_columns) == (5, 4)
    assert [c["name"] for c in desc.schema] == ["x", "n", "city", "flag"]
    assert desc.profile["x"]["mean"] == pytest.approx(np.nanmean(_frame()["x"]))
    assert desc.profile["city"]["top"][0] == ["oslo", 3]
    path.write_text(path.read_text().replace("rome", "roma"))
    assert describe_dataset(path).digest != desc.digest


def test_big_csv_counts_rows_past_the_profile_sample(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    pd.DataFrame({"a": np.arange(150_000), "b": np.arange(150_000) % 7}).to_csv(path, index=False)
    desc = describe_dataset(path)
    assert desc.num_rows == 150_000
    assert desc.profile["a"]["max"] == 99_999.0


def test_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "train.parquet"
    _frame().to_parquet(path, index=False)
    desc = describe_dataset(path, name="training data")
    assert desc.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert desc.digest == describe_dataset(path).digest
    assert (desc.name, desc.num_rows, desc.num_columns) == ("training data", 5, 4)
    types = {c["name"]: c["type"] for c in desc.schema}
    assert list(types) == ["x", "n", "city", "flag"]
    assert (types["x"], types["n"], types["flag"]) == ("double", "int64", "bool")
    assert types["city"] in ("string", "large_string")
    assert desc.profile["x"]["missing"] == 1 and desc.profile["x"]["max"] == 10.0
    assert desc.profile["flag"]["kind"] == "categorical"
    pq_path = tmp_path / "same.pq"
    pq_path.write_bytes(path.read_bytes())
    assert describe_dataset(pq_path).num_rows == 5


def test_big_parquet_row_count_from_metadata(tmp_path: Path) -> None:
    path = tmp_path / "big.parquet"
    pd.DataFrame({"a": np.arange(130_000, dtype=np.int64)}).to_parquet(
        path, index=False, row_group_size=50_000
    )
    desc = describe_dataset(path)
    assert desc.num_rows == 130_000
    assert desc.profile["a"]["max"] == 99_999.0


def test_other_files_get_digest_and_size_only(tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00\x01" * 1000)
    desc = describe_dataset(path)
    assert (desc.num_rows, desc.num_columns, desc.schema) == (None, None, [])
    assert desc.profile == {"size_bytes": 2000}


def test_big_file_is_hashed_in_chunks_to_the_plain_sha256(tmp_path: Path) -> None:
    path = tmp_path / "blob.dat"
    payload = np.random.default_rng(7).integers(0, 256, 5 * 1024 * 1024 + 123, dtype=np.uint8).tobytes()
    path.write_bytes(payload)
    desc = describe_dataset(path)
    assert desc.digest == hashlib.sha256(payload).hexdigest()
    assert desc.profile == {"size_bytes": len(payload)}


def test_unsupported_type_says_what_is_accepted() -> None:
    with pytest.raises(InvalidArgument) as err:
        describe_dataset({"a": [1, 2]})
    message = err.value.message
    assert "dict" in message and "DataFrame" in message and "NumPy" in message and "path" in message


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(InvalidArgument, match="not found") as err:
        describe_dataset(missing)
    assert str(missing) in err.value.message


def test_unreadable_csv_is_an_invalid_argument(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n\xff\xfe,\x00\n")
    with pytest.raises(InvalidArgument, match=r"bad\.csv"):
        describe_dataset(path)


def test_unhashable_and_duplicate_columns_still_describe() -> None:
    df = pd.DataFrame([[[1], {"k": 1}, 1.0], [[2], {"k": 2}, 2.0]], columns=["a", "a", "b"])
    desc = describe_dataset(df)
    assert desc.digest == describe_dataset(df.copy()).digest
    assert list(desc.profile) == ["a", "a.1", "b"]
    assert desc.profile["a"]["top"][0] == ["[1]", 1]
