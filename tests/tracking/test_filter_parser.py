"""Tests for the run search filter language and order-by parser."""

from __future__ import annotations

import contextlib
import random

import pytest

from modelyard.core.errors import InvalidArgument
from modelyard.tracking.filter_parser import (
    And,
    Comparison,
    Or,
    OrderBy,
    parse_filter,
    parse_order_by,
)


def error_of(text: str) -> str:
    """The message parse_filter raises for ``text``."""
    with pytest.raises(InvalidArgument) as info:
        parse_filter(text)
    return info.value.message


def test_issue_example_parses_to_and_of_three_comparisons() -> None:
    node = parse_filter("metrics.auc > 0.9 and params.depth = '3' and tags.team = 'risk'")
    assert node == And(
        (
            Comparison("metric", "auc", ">", 0.9, 1),
            Comparison("param", "depth", "=", "3", 23),
            Comparison("tag", "team", "=", "risk", 46),
        )
    )


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_is_none(text: str | None) -> None:
    assert parse_filter(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "attributes.status = 'FINISHED'",
        "status = 'finished'",
        "run.status == 'Finished'",
        "attr.status='FINISHED'",
    ],
)
def test_status_is_normalised_to_upper_case(text: str) -> None:
    assert parse_filter(text) == Comparison("attribute", "status", "=", "FINISHED", 1)


def test_entity_and_operator_spellings_are_normalised() -> None:
    assert parse_filter("metric.a <> 1") == Comparison("metric", "a", "!=", 1, 1)
    assert parse_filter("param.a == 'x'") == Comparison("param", "a", "=", "x", 1)
    assert parse_filter("TAG.a != 'x'") == Comparison("tag", "a", "!=", "x", 1)
    assert parse_filter("dataset.NAME = 'iris'") == Comparison("dataset", "name", "=", "iris", 1)
    assert parse_filter("attributes.run_id = 'abc'") == Comparison("attribute", "id", "=", "abc", 1)
    assert parse_filter("run_name = 'abc'") == Comparison("attribute", "name", "=", "abc", 1)
    assert parse_filter("metrics.AUC >= 1") == Comparison("metric", "AUC", ">=", 1, 1)


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("params.model LIKE 'xgb%'", "LIKE"),
        ("params.model like 'xgb%'", "LIKE"),
        ("params.model NOT LIKE 'xgb%'", "NOT LIKE"),
        ("params.model ILIKE 'xgb%'", "ILIKE"),
        ("params.model not ilike 'xgb%'", "NOT ILIKE"),
    ],
)
def test_like_and_ilike(text: str, op: str) -> None:
    assert parse_filter(text) == Comparison("param", "model", op, "xgb%", 1)


def test_in_and_not_in_lists() -> None:
    assert parse_filter("tags.team IN ('risk', 'fraud')") == Comparison(
        "tag", "team", "IN", ("risk", "fraud"), 1
    )
    assert parse_filter("metrics.epochs not in (1, 2.5, -3)") == Comparison(
        "metric", "epochs", "NOT IN", (1, 2.5, -3), 1
    )
    assert parse_filter("status IN ('running','failed')") == Comparison(
        "attribute", "status", "IN", ("RUNNING", "FAILED"), 1
    )
    assert parse_filter('datasets.digest IN ("abc")') == Comparison("dataset", "digest", "IN", ("abc",), 1)


def test_is_null_and_is_not_null() -> None:
    assert parse_filter("end_time IS NULL") == Comparison("attribute", "end_time", "IS NULL", None, 1)
    assert parse_filter("tags.owner is not null") == Comparison("tag", "owner", "IS NOT NULL", None, 1)
    assert parse_filter("metrics.auc IS NULL") == Comparison("metric", "auc", "IS NULL", None, 1)


def test_and_binds_tighter_than_or() -> None:
    a = Comparison("metric", "a", ">", 1, 1)
    b = Comparison("metric", "b", ">", 2, 19)
    c = Comparison("metric", "c", ">", 3, 36)
    assert parse_filter("metrics.a > 1 and metrics.b > 2 or metrics.c > 3") == Or((And((a, b)), c))


def test_parentheses_override_precedence_and_nested_nodes_flatten() -> None:
    node = parse_filter("metrics.a > 1 AND (metrics.b > 2 OR (metrics.c > 3 or metrics.d > 4))")
    assert node == And(
        (
            Comparison("metric", "a", ">", 1, 1),
            Or(
                (
                    Comparison("metric", "b", ">", 2, 20),
                    Comparison("metric", "c", ">", 3, 38),
                    Comparison("metric", "d", ">", 4, 55),
                )
            ),
        )
    )
    assert parse_filter("(metrics.a > 1 and metrics.b > 2) and metrics.c > 3") == And(
        (
            Comparison("metric", "a", ">", 1, 2),
            Comparison("metric", "b", ">", 2, 20),
            Comparison("metric", "c", ">", 3, 39),
        )
    )
    assert parse_filter("((metrics.a > 1))") == Comparison("metric", "a", ">", 1, 3)


def test_quoted_keys_may_hold_spaces_dots_and_slashes() -> None:
    assert parse_filter("tags.`my team.name/x` = 'risk'") == Comparison(
        "tag", "my team.name/x", "=", "risk", 1
    )
    assert parse_filter('metrics."val loss" < 0.2') == Comparison("metric", "val loss", "<", 0.2, 1)
    assert parse_filter("tags.mlflow.runName = 'a'") == Comparison("tag", "mlflow.runName", "=", "a", 1)
    assert parse_filter("metrics.val-loss/step:1 < 2") == Comparison("metric", "val-loss/step:1", "<", 2, 1)


def test_escaped_quotes_in_strings() -> None:
    assert parse_filter("tags.note = 'it''s ok'") == Comparison("tag", "note", "=", "it's ok", 1)
    assert parse_filter("tags.note = ''''") == Comparison("tag", "note", "=", "'", 1)
    assert parse_filter('tags.note = "say ""hi"""') == Comparison("tag", "note", "=", 'say "hi"', 1)


@pytest.mark.parametrize(
    ("literal", "value"),
    [("-1.5e-3", -0.0015), ("+2", 2), ("1E3", 1000.0), (".5", 0.5), ("-7", -7), ("3.", 3.0)],
)
def test_numbers(literal: str, value: float) -> None:
    node = parse_filter(f"metrics.loss < {literal}")
    assert isinstance(node, Comparison)
    assert node.value == value
    assert type(node.value) is type(value)


def test_times_take_whole_milliseconds() -> None:
    assert parse_filter("start_time >= 1.7e12") == Comparison(
        "attribute", "start_time", ">=", 1_700_000_000_000, 1
    )


@pytest.mark.parametrize(
    ("text", "position", "shown", "phrase"),
    [
        ("params.a = 'abc", 12, "'abc", "unterminated string"),
        ("tags.`abc = 'x'", 6, "`abc = 'x'", "unterminated backtick-quoted key"),
        ("metrics.auc >> 0.9", 13, ">>", "expected a comparison operator (=, !=, <, <=, >, >=, LIKE"),
        ("metrics.auc 0.9", 13, "0.9", "expected a comparison operator"),
        ("tags.my key = 'x'", 9, "key", "quote keys that contain spaces in backticks"),
        ("metrics.auc >", 14, None, "expected a value (a number or a quoted string) after 'metrics.auc >'"),
        ("params.a = abc", 12, "abc", "quote text values, e.g. 'abc'"),
        ("params.a = NULL", 12, "NULL", "use IS NULL or IS NOT NULL"),
        ("metrics.auc > 0.9 xyz", 19, "xyz", "expected AND, OR or the end of the filter after '0.9'"),
        ("metrics.auc > 0.9 and", 22, None, "expected a field such as metrics.auc"),
        ("foo.bar = 1", 1, "foo", "unknown entity 'foo'"),
        ("attributes.colour = 'x'", 12, "colour", "unknown attribute 'colour'; allowed attributes: id, name"),
        ("colour = 'x'", 1, "colour", "write metrics.colour, params.colour or tags.colour"),
        ("datasets.size = 'x'", 10, "size", "unknown dataset field 'size'"),
        ("params.depth = 3", 16, "3", "params are strings: quote the value, e.g. params.depth = '3'"),
        ("tags.n IN ('1', 2)", 17, "2", "tags are strings: quote the value, e.g. tags.n IN ('1', '2')"),
        ("metrics.auc > 'high'", 15, "'high'", "metrics are numbers: compare with a number"),
        ("metrics.auc > '0.9'", 15, "'0.9'", "remove the quotes, e.g. metrics.auc > 0.9"),
        ("metrics.auc LIKE '0.9%'", 13, "LIKE", "LIKE does not work on metrics"),
        ("metrics.auc not ilike 'x'", 13, "not ilike", "NOT ILIKE does not work on metrics"),
        ("params.lr > '0.1'", 11, ">", "> does not work on params"),
        ("datasets.name IS NULL", 15, "IS NULL", "IS NULL does not work on datasets.name"),
        ("start_time > 'yesterday'", 14, "'yesterday'", "milliseconds since the epoch"),
        ("status = 'DONE'", 10, "'DONE'", "status must be one of RUNNING, FINISHED, FAILED, KILLED"),
        ("params.a IN ()", 13, "()", "IN needs at least one value"),
        ("params.a IN 'x'", 13, "'x'", "IN needs a list of values in parentheses"),
        ("metrics.a = (1, 2)", 13, "(", "a list of values needs IN or NOT IN"),
        ("(metrics.a > 1", 15, None, "unbalanced parentheses: the '(' at position 1 is never closed"),
        ("metrics.a > 1)", 14, ")", "unbalanced parentheses: this ')' has no matching '('"),
        ("metrics.a IN (1, 2", 19, None, "the list opened at position 14 is never closed"),
        ("(metrics.a > 1 metrics.b > 2)", 16, "metrics.b", "expected AND, OR or ')' after '1'"),
        ("metrics.a IN (1 2)", 17, "2", "expected ',' or ')' in the IN list after '1'"),
        ("params.a NOT = 'x'", 14, "=", "expected LIKE, ILIKE or IN after 'params.a NOT'"),
        ("params.a IS 'x'", 13, "'x'", "expected NULL or NOT NULL"),
        ("metrics = 1", 1, "metrics", "'metrics' needs a key after a dot"),
        ("metrics. = 1", 10, "=", "expected a key after 'metrics.'"),
        ("metrics.`` = 1", 9, "``", "the key after 'metrics.' is empty"),
        ("params.a = `x`", 12, "`x`", "backticks quote keys, not values"),
        ("metrics.a = 0.9x", 13, "0.9x", "expected a value"),
        ("metrics.a @ 1", 11, "@", "expected a comparison operator"),
    ],
)
def test_errors_point_at_the_problem(text: str, position: int, shown: str | None, phrase: str) -> None:
    message = error_of(text)
    where = f'"{shown}"' if shown is not None else "end of filter"
    assert message.startswith(f"Invalid filter at position {position} ({where}): "), message
    assert phrase in message
    assert message.endswith(".")


def test_issue_error_message_is_exact() -> None:
    assert error_of("metrics.auc >> 0.9") == (
        'Invalid filter at position 13 (">>"): expected a comparison operator (=, !=, <, <=, >, >=, '
        "LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL) after 'metrics.auc'."
    )


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    assert "nested more than" in error_of("(" * 5000 + "metrics.a > 1" + ")" * 5000)


def test_order_by_clauses() -> None:
    clauses = [
        "metrics.auc DESC",
        "params.lr",
        "attributes.start_time ASC",
        "start_time",
        "tags.`my key` desc",
        'metric."val loss" asc',
        "run_id",
    ]
    assert parse_order_by(clauses) == (
        OrderBy("metric", "auc", True),
        OrderBy("param", "lr", False),
        OrderBy("attribute", "start_time", False),
        OrderBy("attribute", "start_time", False),
        OrderBy("tag", "my key", True),
        OrderBy("metric", "val loss", False),
        OrderBy("attribute", "id", False),
    )
    assert parse_order_by(None) == ()
    assert parse_order_by([]) == ()


@pytest.mark.parametrize(
    ("clause", "position", "phrase"),
    [
        ("metrics.auc DESCENDING", 13, "expected ASC, DESC or the end of the clause after 'metrics.auc'"),
        ("metrics.auc DESC x", 18, "expected ASC, DESC or the end of the clause after 'DESC'"),
        ("datasets.name", 1, "runs cannot be ordered by datasets"),
        ("colour DESC", 1, "unknown attribute 'colour'"),
        ("foo.bar", 1, "unknown entity 'foo'"),
        ("  ", 3, "the clause is empty"),
        ("tags.`x", 6, "unterminated backtick-quoted key"),
        ("DESC", 1, "expected a field"),
    ],
)
def test_order_by_errors_point_at_the_clause(clause: str, position: int, phrase: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse_order_by(["metrics.auc", clause])
    message = info.value.message
    assert message.startswith(f'Invalid order_by clause "{clause}" at position {position} ('), message
    assert phrase in message


def test_order_by_rejects_a_bare_string_and_non_strings() -> None:
    with pytest.raises(InvalidArgument, match="list of clauses"):
        parse_order_by("metrics.auc DESC")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match="must be strings"):
        parse_order_by([3])  # type: ignore[list-item]


FUZZ_FIELDS = [
    "metrics.auc",
    "params.lr",
    "tags.team",
    "attributes.status",
    "status",
    "start_time",
    "datasets.name",
    "metrics.",
    "tags.`a b`",
    'params."x y"',
    "foo.bar",
    "bogus",
    "run",
    "run_id",
    "datasets.size",
]
FUZZ_OPS = [
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    ">>",
    "=>",
    "!",
    "LIKE",
    "not ilike",
    "IN",
    "NOT IN",
    "IS NULL",
    "is not null",
    "IS",
    "NOT",
]
FUZZ_VALUES = [
    "0",
    "-1.5e-3",
    "0.9",
    "1e",
    ".5",
    "+",
    "0.9x",
    "'x'",
    "'it''s'",
    '"s"',
    "'FINISHED'",
    "'running'",
    "('a', 'b')",
    "(1, 2.5)",
    "()",
    "(1,",
    "NULL",
    "`k`",
    "'open",
]
FUZZ_JUNK = ["(", ")", ",", "'", '"', "`", "AND", "or", "ASC", "DESC", "@", "#", ";", "\\", "\n", "é", ""]
FUZZ_CLAUSES = [
    "metrics.auc > 0.9",
    "params.lr = '0.1'",
    "tags.team LIKE 'r%'",
    "status IN ('running','FAILED')",
    "end_time IS NULL",
    "datasets.name = 'iris'",
    "metrics.`val loss` <= -1e-3",
    "run_id != 'abc'",
]
FUZZ_TOKENS = FUZZ_FIELDS + FUZZ_OPS + FUZZ_VALUES + FUZZ_JUNK


def fuzz_filter(rng: random.Random) -> str:
    """A filter built from the grammar's pieces, often broken on purpose."""
    if rng.random() < 0.3:  # plain token soup
        words = rng.choices(FUZZ_TOKENS, k=rng.randint(1, 14))
    else:  # grammar-shaped clauses joined by AND/OR, then mutated
        words = []
        for index in range(rng.randint(1, 4)):
            if index:
                words.append(rng.choice(["AND", "and", "OR", "or"]))
            if rng.random() < 0.6:
                clause = rng.choice(FUZZ_CLAUSES).split(" ")
            else:
                clause = [rng.choice(FUZZ_FIELDS), rng.choice(FUZZ_OPS), rng.choice(FUZZ_VALUES)]
            words.extend(["(", *clause, ")"] if rng.random() < 0.2 else clause)
        for _ in range(rng.randint(0, 2)):
            spot = rng.randrange(len(words))
            action = rng.random()
            if action < 0.33:
                del words[spot]
            elif action < 0.66:
                words.insert(spot, rng.choice(FUZZ_TOKENS))
            else:
                words[spot] = rng.choice(FUZZ_TOKENS)
    return "".join(word + rng.choice([" ", " ", "", "  "]) for word in words)


def test_random_filters_parse_or_raise_invalid_argument() -> None:
    rng = random.Random(20240611)
    parsed = failed = 0
    for _ in range(2000):
        text = fuzz_filter(rng)
        try:
            parse_filter(text)
            parsed += 1
        except InvalidArgument as error:
            assert error.message.startswith("Invalid filter at position "), error.message
            position = int(error.message.split()[4])
            assert 1 <= position <= len(text) + 1
            failed += 1
        with contextlib.suppress(InvalidArgument):
            parse_order_by([text])
    assert parsed + failed == 2000
    assert parsed > 50 and failed > 50  # both paths are exercised
