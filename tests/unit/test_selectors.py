"""Label and field selectors select offline what they select on a cluster (the API server's grammar)."""

from __future__ import annotations

import pytest

from kubectl_canary.errors import UsageError
from kubectl_canary.model.selectors import fields_match, labels_match

LABELS = {"app": "echo", "version": "v1", "kubectl-canary.io/records-apps": "true"}


@pytest.mark.parametrize("selector, selected", [
    (None, True),
    ("", True),
    ("kubectl-canary.io/records-apps=true", True),
    ("app=echo,version=v1", True),
    ("app==echo", True),
    ("app=echo,version=v2", False),
    ("app!=cart", True),
    ("app!=echo", False),
    ("team!=a", True),  # a label the object lacks differs from any value
    ("app", True),
    ("team", False),
    ("!team", True),
    ("!app", False),
    ("version in (v1, v2)", True),
    ("version in (v2,v3)", False),
    ("team in (a)", False),
    ("version notin (v2,v3)", True),
    ("version notin (v1)", False),
    ("team notin (a)", True),
    ("app=echo,version in (v1,v2),!team", True),
    ("app=", False),
])
def test_label_selectors(selector, selected):
    assert labels_match(LABELS, selector) is selected


def test_an_unreadable_label_selector():
    with pytest.raises(UsageError, match=r"invalid label selector 'app=echo,in \(v1\)': cannot read 'in \(v1\)'"):
        labels_match(LABELS, "app=echo,in (v1)")


EVENT = {"metadata": {"name": "e1", "namespace": "echo"},
         "involvedObject": {"kind": "RouteTable", "name": "echo-routes"}}


@pytest.mark.parametrize("selector, selected", [
    (None, True),
    ("involvedObject.kind=RouteTable,involvedObject.name=echo-routes", True),
    ("involvedObject.name==shared", False),
    ("metadata.namespace!=echo", False),
    ("involvedObject.uid=", True),  # a field the object lacks reads as ""
])
def test_field_selectors(selector, selected):
    assert fields_match(EVENT, selector) is selected
