"""LIST answers decoded item by item give exactly what json.loads gives."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_canary.kube.json_items import MalformedJSON, iter_items

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200)
@given(
    before=st.dictionaries(st.sampled_from(["kind", "apiVersion", "metadata"]), values, max_size=3),
    items=st.lists(st.dictionaries(st.text(max_size=5), values, max_size=3), max_size=5),
    after=st.dictionaries(st.sampled_from(["extra", "z"]), values, max_size=2),
    indent=st.sampled_from([None, 0, 2]),
)
def test_same_items_as_json_loads(before, items, after, indent):
    text = json.dumps({**before, "items": items, **after}, indent=indent)
    assert list(iter_items(text)) == json.loads(text)["items"]


@pytest.mark.parametrize("text", ['{"items": null}', "{}", '{"metadata": {"resourceVersion": "1"}}'])
def test_no_items(text):
    assert list(iter_items(text)) == []


@pytest.mark.parametrize("text", ["", "[]", '{"items": [1, 2', '{"items": [1] "x": 2}', "{'items': []}"])
def test_malformed(text):
    with pytest.raises(MalformedJSON):
        list(iter_items(text))
