"""`indented` writes exactly what json.dumps(value, indent=2) writes, only faster."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_canary.model.json_text import indented

scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
           | st.sampled_from(["é", "\u2028", '"\\', "\x00", "😀"]))
keys = st.text(max_size=5) | st.integers() | st.floats() | st.booleans() | st.none()
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.tuples(children) | st.dictionaries(keys, children, max_size=3),
    max_leaves=15,
)


@settings(max_examples=500)
@given(values)
def test_the_same_text_as_json_dumps_with_indent_2(value):
    assert indented(value) == json.dumps(value, indent=2)


@given(values)
def test_nested_at_an_indent_as_inside_a_document(value):
    assert json.dumps({"items": [value]}, indent=2) == '{\n  "items": [\n    ' + indented(value, "    ") + "\n  ]\n}"


def test_what_json_cannot_write_is_refused_as_json_refuses_it():
    with pytest.raises(TypeError):
        indented({(1, 2): "tuple key"})
    with pytest.raises(TypeError):
        indented({"a": object()})
