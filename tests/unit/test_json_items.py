"""LIST answers decoded item by item give exactly what json.loads gives."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_canary.kube.json_items import MalformedJSON, iter_items, list_metadata, without_managed_fields

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


# --- without_managed_fields: what status reads, without decoding who set which field ----------------------

# Strings as field managers, keys of fieldsV1 and values may hold them: brackets, braces, quotes, escapes,
# and the very text the cut looks for.
_AWKWARD = st.sampled_from(['a]b', '}', ']},"name":"x', ',"managedFields":[', '\\"', 'k:{"name":"c]"}', 'é', '\\',
                            ']},', '],', ']}'])
awkward_text = st.lists(_AWKWARD | st.text(max_size=6), max_size=3).map("".join)
fields_v1: st.SearchStrategy[object] = st.recursive(
    st.just({}), lambda children: st.dictionaries(awkward_text, children, max_size=3), max_leaves=8
)
entries = st.lists(
    st.fixed_dictionaries({"manager": awkward_text, "operation": st.sampled_from(["Apply", "Update"]),
                           "fieldsType": st.just("FieldsV1"), "fieldsV1": fields_v1},
                          optional={"subresource": st.just("status")}),
    max_size=3,
)


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _without(item: dict) -> dict:
    meta = {k: v for k, v in item["metadata"].items() if k != "managedFields"}
    return {**item, "metadata": meta}


@settings(max_examples=300)
@given(
    names=st.lists(awkward_text, min_size=1, max_size=4),
    managed=st.lists(entries, min_size=4, max_size=4),
    labels=st.dictionaries(awkward_text, awkward_text, max_size=2),
    spec=values,
)
def test_without_managed_fields_decodes_to_the_objects_less_their_managed_fields(names, managed, labels, spec):
    # Built-in kinds: ObjectMeta's fields in Go's order, managedFields last; custom resources: sorted keys.
    typed = [{"metadata": {"name": n, "namespace": "ns", "labels": labels, "managedFields": m}, "spec": spec}
             for n, m in zip(names, managed)]
    custom = [{"apiVersion": "g/v1", "kind": "K", "metadata": {"creationTimestamp": "t", "labels": labels,
               "managedFields": m, "name": n, "namespace": "ns"}, "spec": spec} for n, m in zip(names, managed)]
    for items, sort_keys in ((typed, False), (custom, True)):
        page = json.dumps({"kind": "List", "metadata": {"continue": "c"}, "items": items}, separators=(",", ":"),
                          ensure_ascii=False, sort_keys=sort_keys)
        cut, whole = json.loads(without_managed_fields(page)), json.loads(page)
        assert {**cut, "items": None} == {**whole, "items": None}
        # Each object as it was, less its managedFields; kept only where a string in it has a `[` (the cut
        # takes no array with a `[` in it, not even in a string: the server's has none).
        assert cut["items"] == [i if "[" in _compact(i["metadata"]["managedFields"])[1:-1] else _without(i)
                                for i in whole["items"]]


@pytest.mark.parametrize(
    "item",
    [
        # Not metadata's managedFields (not followed by the metadata's end or its name): kept.
        {"metadata": {"name": "a"}, "spec": {"x": 1, "managedFields": [{"m": "n"}], "y": 2}},
        # An array inside: not the API server's managedFields; kept whole rather than cut short.
        {"metadata": {"name": "a", "managedFields": [{"m": [1, 2]}, {"z": "]"}]}},
        # Pretty-printed: another layout, kept.
        None,
    ],
)
def test_what_is_not_the_api_servers_managed_fields_stays(item):
    if item is None:
        page = json.dumps({"items": [{"metadata": {"name": "a", "managedFields": [{"m": "x"}]}}]}, indent=1)
    else:
        page = _compact({"items": [item]})
    assert without_managed_fields(page) == page


def test_a_deployment_list_as_the_api_server_writes_it_loses_half_its_text():
    deployment = {
        "metadata": {"name": "echo-v1", "namespace": "echo", "uid": "u", "resourceVersion": "5", "generation": 2,
                     "labels": {"app": "echo"}, "annotations": {"deployment.kubernetes.io/revision": "1"},
                     "managedFields": [{"manager": "kubectl-canary", "operation": "Apply", "apiVersion": "apps/v1",
                                        "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
                                        "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {
                                            "f:containers": {'k:{"name":"echo"}': {".": {}, "f:image": {}}}}}}}}]},
        "spec": {"replicas": 2}, "status": {"availableReplicas": 2},
    }
    page = _compact({"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "9"},
                     "items": [deployment] * 3})
    cut = without_managed_fields(page)
    assert list(iter_items(cut)) == [_without(deployment)] * 3
    assert len(cut) < len(page) * 0.6


@settings(max_examples=200)
@given(
    items=st.lists(st.dictionaries(st.sampled_from(["metadata", "spec", "x"]), values, max_size=3), max_size=4),
    metadata=st.none() | st.dictionaries(st.sampled_from(["continue", "resourceVersion"]), st.text(max_size=5)),
    extra=st.dictionaries(st.sampled_from(["kind", "apiVersion", "zz"]), values, max_size=2),
    order=st.sampled_from(["metadata first", "sorted keys", "metadata last"]),
    indent=st.sampled_from([None, 1]),
)
def test_list_metadata_is_the_lists_own_wherever_it_is(items, metadata, extra, order, indent):
    """Built-in kinds write the list's metadata first, custom resources last (sorted keys); items may hold
    "metadata" keys of their own, nested at any depth."""
    members = {"items": items, **extra}
    if metadata is not None:
        first = order == "metadata first"
        members = {"metadata": metadata, **members} if first else {**members, "metadata": metadata}
    text = json.dumps(members, indent=indent, sort_keys=order == "sorted keys")
    assert list_metadata(text) == metadata
    assert list(iter_items(text)) == items


def test_list_metadata_of_a_custom_resource_list_decodes_no_item():
    """A RouteTable LIST as the API server writes it: the items are not decoded to find the continue token."""
    page = '{"apiVersion":"gateway.solo.io/v1","items":[' + ",".join(['{"metadata":{"name":"a"}, BROKEN'] * 3)
    page += '],"kind":"RouteTableList","metadata":{"continue":"tok","resourceVersion":"9"}}'
    assert list_metadata(page) == {"continue": "tok", "resourceVersion": "9"}


@pytest.mark.parametrize("text", [
    '{"items":[{"metadata":{"name":"a"}}],"kind":"List"}',
    '{"items":[{"metadata":{"name":"a"}}]}',
    '{"items":[],"zz":{"metadata":{"continue":"x"}}}',
])
def test_a_metadata_of_something_else_is_not_the_lists(text):
    assert list_metadata(text) is None


@pytest.mark.parametrize("manager", ["x]},", "x],", "]}", "x]},\"spec", "x],\"name\":\"y"])
def test_a_field_manager_that_ends_like_the_array_is_no_end(manager):
    """A `]` in a string followed by what follows the array, as far as a string may hold it."""
    item = {"metadata": {"name": "a", "managedFields": [{"manager": manager, "operation": "Apply"}]},
            "spec": {"replicas": 1}}
    page = _compact({"items": [item, item]})
    assert list(iter_items(without_managed_fields(page))) == [_without(item)] * 2
