from __future__ import annotations

import pytest

from models_store import LATEST, InvalidName, parse_version_ref, validate_alias, validate_name


@pytest.mark.parametrize("name", ["a", "moons-node", "m1.v2_x", "0" + "a" * 63])
def test_valid_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "-x", ".hidden", "..", "a/b", "a b", "a" * 65, "é", None, 3])
def test_invalid_names(name):
    with pytest.raises(InvalidName):
        validate_name(name)


@pytest.mark.parametrize("alias", ["12", "Stable", "../x"])
def test_invalid_aliases(alias):
    with pytest.raises(InvalidName):
        validate_alias(alias)


@pytest.mark.parametrize(
    "ref, parsed", [(None, LATEST), (3, 3), ("3", 3), ("stable", "stable"), ("latest", LATEST)]
)
def test_parse_version_ref(ref, parsed):
    assert parse_version_ref(ref) == parsed


@pytest.mark.parametrize("ref", [0, -1, "0", "01", "v-1!", "1" * 10])
def test_parse_version_ref_refuses(ref):
    with pytest.raises(InvalidName):
        parse_version_ref(ref)
