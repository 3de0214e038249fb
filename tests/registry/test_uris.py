"""``models:/`` URIs name the version a user means."""

import pytest

from modelyard.core.errors import InvalidArgument
from modelyard.registry.uris import parse_model_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/scorer/2", ("home", "scorer", "2")),  # a version, not a model "2" in project "scorer"
        ("models:/scorer/latest", ("home", "scorer", "latest")),
        ("models:/scorer@champion", ("home", "scorer", "@champion")),
        ("models:/scorer", ("home", "scorer", "latest")),
        ("models:/risk/scorer/7", ("risk", "scorer", "7")),
        ("models:/risk/scorer@champion", ("risk", "scorer", "@champion")),
        ("models:/risk/scorer", ("risk", "scorer", "latest")),
    ],
)
def test_forms(uri: str, expected: tuple[str, str, str]) -> None:
    assert parse_model_uri(uri, "home") == expected


@pytest.mark.parametrize("uri", ["models:/", "models:/a/b/c/d", "runs:/abc/model", "scorer", "models:/a@b@c"])
def test_malformed(uri: str) -> None:
    with pytest.raises(InvalidArgument, match="is not valid"):
        parse_model_uri(uri, "home")
