"""Parser for the search filter language and for order-by clauses.

The language is MLflow's, which users already know::

    metrics.auc > 0.9 and params.depth = '3' and (tags.team = 'risk' or status = 'RUNNING')

One language serves every search; a :class:`FilterSchema` says what a filter over one kind
of object may reference. :data:`RUN_FILTER` (the default) describes runs,
:data:`MODEL_FILTER` registered models and :data:`VERSION_FILTER` model versions (whose
metrics and params are those of their source run).

It is parsed by hand: the grammar is tiny, and a hand-written tokenizer and
recursive-descent parser can say exactly where a filter goes wrong and what was expected
there, which generic parser libraries do poorly. This module only builds an AST and checks
types (a param compared with a number, LIKE on a metric, ...); compiling the AST to SQL
happens elsewhere.

Operators allowed per field:

- metrics, numeric attributes (runs' ``start_time``, ``end_time``; versions' ``version``, ...):
  ``= != < <= > >= IN, NOT IN, IS [NOT] NULL``, numbers.
- params, tags, other attributes: ``= != [NOT] LIKE [NOT] ILIKE [NOT] IN IS [NOT] NULL``, strings.
- enumerated attributes (runs' ``status``: RUNNING, FINISHED, FAILED, KILLED; models'
  ``risk_tier``, ...): ``= != [NOT] LIKE [NOT] ILIKE [NOT] IN``, one of the allowed values
  (matched case-insensitively, normalised to the stored spelling).
- datasets (``name``, ``digest``, ``context``): ``= != [NOT] LIKE [NOT] ILIKE [NOT] IN``, strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from modelyard.core.errors import InvalidArgument
from modelyard.tracking.filter_schemas import (
    ATTRIBUTES,
    KINDS,
    MODEL_FILTER,
    RUN_FILTER,
    RUN_STATUSES,
    VERSION_FILTER,
    FilterSchema,
)

__all__ = [
    "ATTRIBUTES",
    "MODEL_FILTER",
    "RUN_FILTER",
    "RUN_STATUSES",
    "VERSION_FILTER",
    "And",
    "Comparison",
    "FilterSchema",
    "Node",
    "Or",
    "OrderBy",
    "parse_filter",
    "parse_order_by",
]


@dataclass(frozen=True)
class Comparison:
    """One ``field op value`` clause.

    Attributes:
        entity: "metric", "param", "tag", "attribute" or "dataset".
        key: the metric/param/tag key as written, or the canonical attribute / dataset field.
        op: the normalised operator, e.g. "=", "!=", "NOT LIKE", "IS NULL".
        value: int/float, str, a tuple of them for IN lists, or None for IS [NOT] NULL.
        position: 1-based character position of the clause in the filter text.
    """

    entity: str
    key: str
    op: str
    value: object
    position: int


@dataclass(frozen=True)
class And:
    """All items must hold."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """At least one item must hold."""

    items: tuple[Node, ...]


Node = Comparison | And | Or


@dataclass(frozen=True)
class OrderBy:
    """One order-by clause: ``entity`` as in :class:`Comparison`, never "dataset"."""

    entity: str
    key: str
    descending: bool


_DATASET_FIELDS = ("name", "digest", "context")
_ENTITIES = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "datasets": "dataset",
    "dataset": "dataset",
}
_PLURAL = {kind: f"{kind}s" for kind in KINDS}  # metrics., params., ... as written in filters
_SAMPLE_KEYS = {"metric": "auc", "param": "depth", "tag": "team", "dataset": "name"}

_SYMBOL_OPS = {"=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_ALL_OPS = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL"
_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
_STRING_OPS = ("=", "!=", "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL")
_MATCH_OPS = _STRING_OPS[:-2]  # status and datasets: never NULL
_KEYWORDS = frozenset({"AND", "OR", "NOT", "LIKE", "ILIKE", "IN", "IS", "NULL", "ASC", "DESC"})
_MAX_DEPTH = 100

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-./:]*")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_WORD_CHAR = re.compile(r"[A-Za-z0-9_\-./:]")
_OPERATOR = re.compile(r"[=!<>]+")
_OTHER = re.compile(r"[^\s()',\"`=!<>]+")
_QUOTES = {"'": "STRING", '"': "DQUOTED", "`": "BACKTICK"}
_PUNCT = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA"}
_QUOTE_NAMES = {"'": "string", '"': "double-quoted text", "`": "backtick-quoted key"}


@dataclass(frozen=True)
class _Token:
    kind: str  # WORD NUMBER STRING DQUOTED BACKTICK OP LPAREN RPAREN COMMA OTHER EOF
    text: str  # as written
    start: int  # 0-based
    end: int
    value: str = ""  # the decoded content of a quoted token


class _ParseError(Exception):
    """A problem at text[start:end]; turned into InvalidArgument by the public functions."""

    def __init__(self, start: int, end: int, message: str) -> None:
        super().__init__(message)
        self.start, self.end, self.message = start, end, message


def _tokenize(text: str) -> list[_Token]:
    """Split ``text`` into tokens; only an unterminated quote fails here."""
    tokens: list[_Token] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos].isspace():
            pos += 1
        if pos >= n:
            tokens.append(_Token("EOF", "", n, n))
            return tokens
        char = text[pos]
        if char in _PUNCT:
            tokens.append(_Token(_PUNCT[char], char, pos, pos + 1))
            pos += 1
        elif char in _QUOTES:
            tokens.append(_quoted(text, pos))
            pos = tokens[-1].end
        elif (match := _OPERATOR.match(text, pos)) is not None:
            tokens.append(_Token("OP", match.group(), pos, match.end()))
            pos = match.end()
        elif (match := _WORD.match(text, pos)) is not None:
            tokens.append(_Token("WORD", match.group(), pos, match.end()))
            pos = match.end()
        elif (match := _NUMBER.match(text, pos)) is not None and not _WORD_CHAR.match(text, match.end()):
            tokens.append(_Token("NUMBER", match.group(), pos, match.end()))
            pos = match.end()
        else:  # unknown characters, or a number run into letters such as 0.9x
            match = _OTHER.match(text, pos)
            end = match.end() if match else pos + 1
            tokens.append(_Token("OTHER", text[pos:end], pos, end))
            pos = end


def _quoted(text: str, start: int) -> _Token:
    """Read a quoted token starting at ``start``; a doubled quote stands for one quote."""
    quote = text[start]
    parts: list[str] = []
    pos = start + 1
    while True:
        close = text.find(quote, pos)
        if close < 0:
            hint = " (write '' for a quote inside a string)" if quote == "'" else ""
            raise _ParseError(
                start, len(text), f"unterminated {_QUOTE_NAMES[quote]}: close it with {quote}{hint}"
            )
        parts.append(text[pos:close])
        if text.startswith(quote, close + 1):
            parts.append(quote)
            pos = close + 2
            continue
        return _Token(_QUOTES[quote], text[start : close + 1], start, close + 1, "".join(parts))


@dataclass(frozen=True)
class _Field:
    entity: str
    key: str
    start: int
    end: int
    text: str  # as written, for messages


class _Parser:
    """Recursive-descent parser over the token list of one filter or order-by clause."""

    def __init__(self, text: str, schema: FilterSchema) -> None:
        self.text = text
        self.schema = schema
        self.tokens = _tokenize(text)
        self.index = 0
        self.ordering = False  # parsing an order-by clause rather than a filter

    # -- token helpers ---------------------------------------------------------------------
    def peek(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "EOF":
            self.index += 1
        return token

    def previous(self) -> str:
        return _clip(self.tokens[self.index - 1].text) if self.index else ""

    @staticmethod
    def is_word(token: _Token, *words: str) -> bool:
        return token.kind == "WORD" and token.text.upper() in words

    @staticmethod
    def fail(token: _Token, message: str) -> _ParseError:
        return _ParseError(token.start, token.end, message)

    # -- filter grammar --------------------------------------------------------------------
    def filter(self) -> Node:
        node = self.or_expr(0)
        token = self.peek()
        if token.kind == "RPAREN":
            raise self.fail(token, "unbalanced parentheses: this ')' has no matching '('")
        if token.kind != "EOF":
            raise self.fail(token, f"expected AND, OR or the end of the filter after '{self.previous()}'")
        return node

    def or_expr(self, depth: int) -> Node:
        items = [self.and_expr(depth)]
        while self.is_word(self.peek(), "OR"):
            self.advance()
            items.append(self.and_expr(depth))
        return _combine(Or, items)

    def and_expr(self, depth: int) -> Node:
        items = [self.primary(depth)]
        while self.is_word(self.peek(), "AND"):
            self.advance()
            items.append(self.primary(depth))
        return _combine(And, items)

    def primary(self, depth: int) -> Node:
        token = self.peek()
        if token.kind != "LPAREN":
            return self.comparison()
        if depth >= _MAX_DEPTH:
            raise self.fail(token, f"parentheses are nested more than {_MAX_DEPTH} deep")
        self.advance()
        node = self.or_expr(depth + 1)
        close = self.peek()
        if close.kind != "RPAREN":
            if close.kind == "EOF":
                message = f"unbalanced parentheses: the '(' at position {token.start + 1} is never closed"
            else:
                message = f"expected AND, OR or ')' after '{self.previous()}'"
            raise self.fail(close, message)
        self.advance()
        return node

    def comparison(self) -> Comparison:
        field = self.field()
        op_start = self.peek().start
        op = self.operator(field)
        op_end = self.tokens[self.index - 1].end
        values = self.operand(field, op, _clip(self.text[field.start : op_end]))
        value = _check(field, op, (op_start, op_end), values, self.schema)
        return Comparison(field.entity, field.key, op, value, field.start + 1)

    def field(self) -> _Field:
        schema = self.schema
        token = self.peek()
        if token.kind != "WORD" or token.text.upper() in _KEYWORDS:
            after = f" after '{self.previous()}'" if self.index else ""
            samples = [
                f"{_PLURAL[e]}.{_SAMPLE_KEYS[e]}" for e in ("metric", "param", "tag") if e in schema.entities
            ]
            raise self.fail(
                token, f"expected a field such as {_or([*samples, schema.sample_attribute])}{after}"
            )
        self.advance()
        word = token.text
        if "." not in word:
            entity = _entity(word, schema)
            if entity is not None and _canonical(word, schema) not in schema.attributes:
                self.allowed(entity, token.start, token.end)
                raise self.fail(
                    token, f"'{word}' needs a key after a dot, e.g. {word}.{_sample(entity, schema)}"
                )
            key = _attribute(word, token, bare=True, schema=schema)
            return _Field("attribute", key, token.start, token.end, word)
        entity_text, _, key = word.partition(".")
        entity = _entity(entity_text, schema)
        if entity is None:
            prefixes = [f"{_PLURAL[e]}." for e in KINDS if e in schema.entities]
            raise _ParseError(
                token.start,
                token.start + len(entity_text),
                f"unknown entity '{entity_text}'; use {_or(prefixes)}",
            )
        self.allowed(entity, token.start, token.start + len(entity_text))
        end = token.end
        if not key:
            quoted = self.peek()
            if quoted.kind not in ("BACKTICK", "DQUOTED"):
                raise self.fail(
                    quoted,
                    f"expected a key after '{word}', e.g. {word}{_sample(entity, schema)}; quote keys with "
                    f"spaces or other "
                    f"characters in backticks, e.g. {word}`my key`",
                )
            self.advance()
            if not quoted.value:
                raise self.fail(quoted, f"the key after '{word}' is empty")
            key, end = quoted.value, quoted.end
        key_start = token.start + len(entity_text) + 1
        key_token = _Token("WORD", self.text[key_start:end], key_start, end)
        if entity == "attribute":
            key = _attribute(key, key_token, bare=False, schema=schema)
        elif entity == "dataset":
            if key.lower() not in _DATASET_FIELDS:
                raise self.fail(
                    key_token,
                    f"unknown dataset field '{key}'; use datasets.name, datasets.digest or datasets.context",
                )
            key = key.lower()
        return _Field(entity, key, token.start, end, self.text[token.start : end])

    def allowed(self, entity: str, start: int, end: int) -> None:
        """Fail at text[start:end] when this schema does not allow ``entity``."""
        schema = self.schema
        if entity in schema.entities:
            return
        usable = _and(
            [_PLURAL[e] for e in ("attribute", "tag", "metric", "param", "dataset") if e in schema.entities]
        )
        if self.ordering:
            message = f"{schema.plural} can be ordered by {usable}, not {_PLURAL[entity]}"
        else:
            message = f"{schema.noun} filters can use {usable}, not {_PLURAL[entity]}"
        hint = schema.hints.get(entity)
        raise _ParseError(start, end, f"{message}; {hint}" if hint else message)

    def operator(self, field: _Field) -> str:
        token = self.advance()
        if token.kind == "OP" and token.text in _SYMBOL_OPS:
            return _SYMBOL_OPS[token.text]
        word = token.text.upper() if token.kind == "WORD" else ""
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT":
            after = self.advance()
            if self.is_word(after, "LIKE", "ILIKE", "IN"):
                return f"NOT {after.text.upper()}"
            raise self.fail(after, f"expected LIKE, ILIKE or IN after '{field.text} NOT'")
        if word == "IS":
            after = self.advance()
            if self.is_word(after, "NULL"):
                return "IS NULL"
            if self.is_word(after, "NOT"):
                last = self.advance()
                if self.is_word(last, "NULL"):
                    return "IS NOT NULL"
                raise self.fail(last, f"expected NULL after '{field.text} IS NOT'")
            raise self.fail(after, f"expected NULL or NOT NULL after '{field.text} IS'")
        hint = ""
        if token.kind == "WORD":
            hint = "; quote keys that contain spaces in backticks, e.g. tags.`my key`"
        raise self.fail(token, f"expected a comparison operator ({_ALL_OPS}) after '{field.text}'{hint}")

    def operand(self, field: _Field, op: str, written: str) -> list[tuple[object, _Token]]:
        if op in ("IS NULL", "IS NOT NULL"):
            return []
        if op not in ("IN", "NOT IN"):
            return [self.value(field, written, in_list=False)]
        opening = self.advance()
        if opening.kind != "LPAREN":
            raise self.fail(
                opening, f"{op} needs a list of values in parentheses, e.g. {field.text} {op} ('a', 'b')"
            )
        if self.peek().kind == "RPAREN":
            raise _ParseError(opening.start, self.peek().end, f"{op} needs at least one value in its list")
        values = [self.value(field, written, in_list=True)]
        while True:
            token = self.peek()
            if token.kind in ("RPAREN", "COMMA"):
                self.advance()
            if token.kind == "RPAREN":
                return values
            if token.kind != "COMMA":
                if token.kind == "EOF":
                    where = opening.start + 1
                    message = f"unbalanced parentheses: the list opened at position {where} is never closed"
                else:
                    message = f"expected ',' or ')' in the {op} list after '{self.previous()}'"
                raise self.fail(token, message)
            values.append(self.value(field, written, in_list=True))

    def value(self, field: _Field, written: str, in_list: bool) -> tuple[object, _Token]:
        token = self.advance()
        if token.kind == "NUMBER":
            return _number(token.text), token
        if token.kind in ("STRING", "DQUOTED"):
            return token.value, token
        if token.kind == "BACKTICK":
            raise self.fail(token, "backticks quote keys, not values; quote values with single quotes")
        if token.kind == "LPAREN" and not in_list:
            raise self.fail(token, f"a list of values needs IN or NOT IN, e.g. {field.text} IN (...)")
        if self.is_word(token, "NULL"):
            raise self.fail(token, "use IS NULL or IS NOT NULL to test for a missing value")
        where = f"in the list after '{written}'" if in_list else f"after '{written}'"
        hint = f"; quote text values, e.g. '{token.text}'" if token.kind == "WORD" else ""
        raise self.fail(token, f"expected a value (a number or a quoted string) {where}{hint}")

    # -- order by --------------------------------------------------------------------------
    def order_by(self) -> OrderBy:
        if self.peek().kind == "EOF":
            raise self.fail(self.peek(), "the clause is empty; write e.g. 'metrics.auc DESC'")
        self.ordering = True
        field = self.field()
        schema = self.schema
        if field.entity == "dataset":
            prefixes = [f"{_PLURAL[e]}." for e in KINDS if e in schema.entities and e != "dataset"]
            raise _ParseError(
                field.start,
                field.end,
                f"{schema.plural} cannot be ordered by datasets; order by {_or(prefixes)}",
            )
        if field.entity == "attribute" and field.key in schema.unordered:
            raise _ParseError(
                field.start,
                field.end,
                f"{schema.plural} cannot be ordered by {field.key} (a {schema.noun} may have several); "
                f"use it in the filter instead",
            )
        token = self.peek()
        descending = False
        if self.is_word(token, "ASC", "DESC"):
            descending = token.text.upper() == "DESC"
            self.advance()
            token = self.peek()
        if token.kind != "EOF":
            raise self.fail(token, f"expected ASC, DESC or the end of the clause after '{self.previous()}'")
        return OrderBy(field.entity, field.key, descending)


def _combine(cls: type[And] | type[Or], items: list[Node]) -> Node:
    """Build an And/Or, flattening nested nodes of the same type; one item stays as is."""
    if len(items) == 1:
        return items[0]
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, cls) else (item,))
    return cls(tuple(flat))


def _or(words: Sequence[str]) -> str:
    """``a, b or c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _and(words: Sequence[str]) -> str:
    """``a, b and c``."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _entity(word: str, schema: FilterSchema) -> str | None:
    """The entity a prefix such as ``metrics`` or ``run`` names, or None."""
    lowered = word.lower()
    return "attribute" if lowered in schema.prefixes else _ENTITIES.get(lowered)


def _sample(entity: str, schema: FilterSchema) -> str:
    """A key to show after ``entity.`` in examples."""
    return schema.sample_attribute if entity == "attribute" else _SAMPLE_KEYS[entity]


def _canonical(name: str, schema: FilterSchema) -> str:
    lowered = name.lower()
    return schema.aliases.get(lowered, lowered)


def _attribute(name: str, token: _Token, bare: bool, schema: FilterSchema) -> str:
    """Canonical attribute name, or a _ParseError listing the allowed ones."""
    canonical = _canonical(name, schema)
    if canonical in schema.attributes:
        return canonical
    hint = ""
    kinds = [e for e in ("metric", "param", "tag") if e in schema.entities]
    if bare and kinds:
        hint = f"; for a {_or(kinds)} write {_or([f'{_PLURAL[e]}.{name}' for e in kinds])}"
    aliases = list(schema.aliases)
    also = ""
    if aliases:
        also = f" ({_and(aliases)} also {'works' if len(aliases) == 1 else 'work'})"
    raise _ParseError(
        token.start,
        token.end,
        f"unknown attribute '{name}'; allowed attributes: {', '.join(schema.attributes)}{also}{hint}",
    )


def _number(text: str) -> int | float:
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _literal(value: object, token: _Token) -> str:
    """A value written as a string literal, for examples in messages."""
    raw = token.text if token.kind == "NUMBER" else str(value)
    return "'" + raw.replace("'", "''") + "'"


def _as_number(value: object, token: _Token, sample: str) -> str:
    """A value written as a number, for examples in messages."""
    if not isinstance(value, str):
        return token.text
    return value.strip() if _NUMBER.fullmatch(value.strip()) else sample


def _example(field: _Field, op: str, parts: list[str]) -> str:
    """``field op value`` for messages, e.g. params.depth = '3'."""
    shown = f"({', '.join(parts)})" if op in ("IN", "NOT IN") else parts[0]
    return f"{field.text} {op} {shown}"


def _rules(field: _Field, schema: FilterSchema) -> tuple[str, tuple[str, ...], str]:
    """What to call the field in messages, its allowed operators and its value kind."""
    if field.entity == "metric":
        return "metrics", _NUMBER_OPS, "number"
    if field.entity == "dataset":
        return f"datasets.{field.key}", _MATCH_OPS, "string"
    if field.entity in ("param", "tag"):
        return _PLURAL[field.entity], _STRING_OPS, "string"
    what = f"attributes.{field.key}"
    if field.key in schema.numeric:
        return what, _NUMBER_OPS, "number"
    if field.key in schema.enums:
        return what, _MATCH_OPS, "string"
    return what, _STRING_OPS, "string"


def _check(
    field: _Field,
    op: str,
    op_span: tuple[int, int],
    values: list[tuple[object, _Token]],
    schema: FilterSchema,
) -> object:
    """Check the operator and value types for the field; return the comparison's value."""
    what, allowed, kind = _rules(field, schema)
    plural = field.entity in ("metric", "param", "tag")
    if op not in allowed:
        raise _ParseError(
            *op_span,
            f"{op} does not work on {what} ({field.text} holds {kind}s); "
            f"use {', '.join(allowed[:-1])} or {allowed[-1]}",
        )
    for value, token in values:
        if kind == "number" and isinstance(value, str):
            numeric = bool(_NUMBER.fullmatch(value.strip()))
            fix = "remove the quotes" if numeric else "compare with a number"
            time = field.entity == "attribute" and field.key in schema.times
            sample = "1700000000000" if time else "1" if field.entity == "attribute" else "0.9"
            parts = [_as_number(v, t, sample) for v, t in values]
            if time:
                subject = f"{what} is a time in milliseconds since the epoch"
            elif field.entity == "attribute":
                subject = f"{what} is a number"
            else:
                subject = f"{what} are numbers"
            raise _ParseError(token.start, token.end, f"{subject}: {fix}, e.g. {_example(field, op, parts)}")
        if kind == "string" and not isinstance(value, str):
            parts = [_literal(v, t) for v, t in values]
            subject = f"{what} are strings" if plural else f"{what} is a string"
            raise _ParseError(
                token.start, token.end, f"{subject}: quote the value, e.g. {_example(field, op, parts)}"
            )
    result = [value for value, _ in values]
    choices = schema.enums.get(field.key, ()) if field.entity == "attribute" else ()
    if choices and op in ("=", "!=", "IN", "NOT IN"):
        stored = {choice.upper(): choice for choice in choices}
        for index, (value, token) in enumerate(values):
            choice = stored.get(str(value).upper())
            if choice is None:
                raise _ParseError(
                    token.start, token.end, f"{field.key} must be one of {', '.join(choices)}, not '{value}'"
                )
            result[index] = choice
    if field.entity == "attribute" and kind == "number":
        # Times are whole milliseconds and versions whole numbers; 1.7e12 is a natural way to write one.
        result = [int(v) if isinstance(v, float) and v.is_integer() else v for v in result]
    if op in ("IS NULL", "IS NOT NULL"):
        return None
    if op in ("IN", "NOT IN"):
        return tuple(result)
    return result[0]


def _clip(text: str, limit: int = 40) -> str:
    """Shorten long text quoted in a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _format(error: _ParseError, text: str, subject: str, end_name: str) -> InvalidArgument:
    """The user-facing error: 1-based position, the offending text, and what was wrong."""
    snippet = _clip(text[error.start : error.end])
    shown = f'"{snippet}"' if snippet else end_name
    stop = "" if error.message.endswith(".") else "."
    return InvalidArgument(
        f"Invalid {subject} at position {error.start + 1} ({shown}): {error.message}{stop}"
    )


def parse_filter(text: str | None, schema: FilterSchema = RUN_FILTER) -> Node | None:
    """Parse a search filter into an AST.

    Args:
        text: e.g. ``"metrics.auc > 0.9 and params.depth = '3'"``; None or blank means no filter.
        schema: what the filter may reference; runs by default.

    Returns:
        The root node, or None for an empty filter.

    Raises:
        InvalidArgument: the filter is malformed; the message gives the position and the text.
    """
    if text is None or not text.strip():
        return None
    try:
        return _Parser(text, schema).filter()
    except _ParseError as error:
        raise _format(error, text, "filter", "end of filter") from None


def parse_order_by(clauses: list[str] | None, schema: FilterSchema = RUN_FILTER) -> tuple[OrderBy, ...]:
    """Parse order-by clauses such as ``["metrics.auc DESC", "start_time"]`` (ASC by default).

    Args:
        clauses: the clauses, most significant first; None or empty means no ordering.
        schema: what the clauses may reference; runs by default.

    Raises:
        InvalidArgument: a clause is malformed or orders by something the schema's objects
            cannot be ordered by.
    """
    if clauses is None:
        return ()
    if isinstance(clauses, str):
        raise InvalidArgument(
            "order_by must be a list of clauses such as ['metrics.auc DESC'], not a string."
        )
    result = []
    for clause in clauses:
        if not isinstance(clause, str):
            raise InvalidArgument(
                f"order_by clauses must be strings such as 'metrics.auc DESC', not {type(clause).__name__}."
            )
        try:
            result.append(_Parser(clause, schema).order_by())
        except _ParseError as error:
            raise _format(error, clause, f'order_by clause "{_clip(clause, 80)}"', "end of clause") from None
    return tuple(result)
