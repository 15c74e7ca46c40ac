"""The routing models against the rules as documented: one test per rule (the documents are cited in
kubectl_canary/request_routing/gloo.py and gateway_api.py, and quoted in each test's docstring)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubectl_canary.model.rollout import HeaderMatch
from kubectl_canary.request_routing import examples, gloo
from kubectl_canary.request_routing import gateway_api as gw
from kubectl_canary.request_routing.requests import NO_ROUTE, PassedOver, Request


def to(name: str) -> dict:
    return {"single": {"upstream": {"name": name, "namespace": "ns"}}}


def route(name: str, *matchers: dict) -> dict:
    return {"name": name, "matchers": list(matchers), "routeAction": to(name)}


def taken_by(routes: list[dict], request: Request) -> str | None:
    return gloo.explain(routes, request).route


# --- Gloo Edge ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, taken", [("/echo", True), ("/echo/a", True), ("/echoes", True), ("/ech", False)])
def test_gloo_prefix_is_the_beginning_of_the_path(path, taken):
    """matchers.proto: `prefix` "must match the beginning of the :path header": /echo also takes /echoes."""
    assert gloo.matcher_matches({"prefix": "/echo"}, Request(path)) is taken


def test_gloo_paths_are_case_sensitive_unless_said():
    """matchers.proto: `caseSensitive` "Indicates that prefix/path matching should be case sensitive. The
    default is true"."""
    assert not gloo.matcher_matches({"prefix": "/echo"}, Request("/Echo"))
    assert gloo.matcher_matches({"prefix": "/echo", "caseSensitive": False}, Request("/Echo/a"))
    assert gloo.matcher_matches({"exact": "/echo", "caseSensitive": False}, Request("/ECHO"))
    assert not gloo.matcher_matches({"exact": "/echo", "caseSensitive": True}, Request("/ECHO"))


def test_gloo_exact_is_the_whole_path():
    """matchers.proto: `exact`: "the path must exactly match the :path header once the query string is
    removed"."""
    assert gloo.matcher_matches({"exact": "/echo"}, Request("/echo", query={"a": "1"}))
    assert not gloo.matcher_matches({"exact": "/echo"}, Request("/echo/"))


@pytest.mark.parametrize("path, taken", [("/bit", True), ("/bot", True), ("/bite", False), ("/bit/bot", False)])
def test_gloo_regex_matches_the_whole_path(path, taken):
    """matchers.proto, `regex`: "The regex /b[io]t matches the path /bit ... does not match the path /bite
    ... does not match the path /bit/bot"."""
    assert gloo.matcher_matches({"regex": "/b[io]t"}, Request(path)) is taken


def test_gloo_headers_are_anded_and_a_header_without_value_asks_for_presence():
    """matchers.proto, `headers`: "A match will happen if all the headers in the route are present in the
    request with the same values (or based on presence if the value field is not in the config)"."""
    matcher = {"prefix": "/", "headers": [{"name": "stage", "value": "canary"}, {"name": "x-tenant"}]}
    assert gloo.matcher_matches(matcher, Request("/", headers={"stage": "canary", "x-tenant": "anything"}))
    assert not gloo.matcher_matches(matcher, Request("/", headers={"stage": "canary"}))
    assert not gloo.matcher_matches(matcher, Request("/", headers={"stage": "beta", "x-tenant": "a"}))


def test_gloo_header_names_are_case_insensitive():
    """HTTP/2 (which Envoy speaks inside) lowercases header names; Gloo's header matcher names a header."""
    matcher = {"headers": [{"name": "Stage", "value": "canary"}]}
    assert gloo.matcher_matches(matcher, Request("/", headers={"STAGE": "canary"}))


def test_gloo_header_regex_matches_the_whole_value():
    """HeaderMatcher `regex`: "Specifies whether the header value should be treated as regex"; Envoy's
    safe_regex matches the whole value."""
    matcher = {"headers": [{"name": "stage", "value": "can.*", "regex": True}]}
    assert gloo.matcher_matches(matcher, Request("/", headers={"stage": "canary"}))
    assert not gloo.matcher_matches(matcher, Request("/", headers={"stage": "a-canary"}))


@pytest.mark.parametrize("condition, headers, taken", [
    ({"name": "foo", "invertMatch": True}, {}, True),
    ({"name": "foo", "invertMatch": True}, {"foo": "x"}, False),
    ({"name": "foo", "value": "bar", "invertMatch": True}, {"foo": "baz"}, True),
    ({"name": "foo", "value": "bar", "invertMatch": True}, {}, True),
    ({"name": "foo", "value": "bar", "invertMatch": True}, {"foo": "bar"}, False),
    ({"name": "foo", "value": r"\d{3}", "regex": True, "invertMatch": True}, {"foo": "123"}, False),
    ({"name": "foo", "value": r"\d{3}", "regex": True, "invertMatch": True}, {"foo": "12a"}, True),
])
def test_gloo_invert_match(condition, headers, taken):
    """HeaderMatcher `invertMatch`: "name=foo, invert_match=true: matches if no header named foo is present;
    name=foo, value=bar, invert_match=true: matches if no header named foo with value bar is present;
    name=foo, value=\\d{3}, regex=true, invert_match=true: matches if no header named foo with a value
    consisting of three integers is present"."""
    assert gloo.matcher_matches({"headers": [condition]}, Request("/", headers=headers)) is taken


@pytest.mark.parametrize("query, taken", [({"debug": ""}, True), ({"debug": "true"}, True), ({}, False)])
def test_gloo_query_parameter_without_value_asks_for_the_key(query, taken):
    """QueryParameterMatcher `value`: "If the value is absent, a request that contains the key in its query
    string will match, whether the key appears with a value (e.g., "?debug=true") or not"."""
    assert gloo.matcher_matches({"queryParameters": [{"name": "debug"}]}, Request("/", query=query)) is taken


@pytest.mark.parametrize("value, taken", [("123", True), ("a123", False), ("123a", False)])
def test_gloo_query_regex_matches_the_whole_value(value, taken):
    """QueryParameterMatcher `regex`: "The entire query parameter value ... must match the regex. E.g., the
    regex "\\d+$" will match "123" but not "a123" or "123a"". Several parameters: "they all must match"."""
    matcher = {"queryParameters": [{"name": "id", "value": r"\d+$", "regex": True}, {"name": "v"}]}
    assert gloo.matcher_matches(matcher, Request("/", query={"id": value, "v": "1"})) is taken
    assert not gloo.matcher_matches(matcher, Request("/", query={"id": value}))


def test_gloo_methods_none_means_any():
    """matchers.proto, `methods`: "HTTP Method/Verb(s) to match on. If none specified, the matcher will
    ignore the HTTP Method"."""
    assert gloo.matcher_matches({"prefix": "/"}, Request("/", "DELETE"))
    assert gloo.matcher_matches({"methods": ["GET", "POST"]}, Request("/", "POST"))
    assert not gloo.matcher_matches({"methods": ["GET"]}, Request("/", "POST"))


def test_gloo_first_match_in_order():
    """route_ordering.md: "Envoy evaluates routes top-to-bottom and uses the first match, so you are
    responsible for placing more specific routes before broader catch-all routes" (gloo#9830: a header
    route behind the catch-all never matches)."""
    canary = route("echo-canary-header", {"prefix": "/echo", "headers": [{"name": "stage", "value": "canary"}]})
    catch_all = route("catch-all", {"prefix": "/"})
    request = Request("/echo", headers={"stage": "canary"})
    assert taken_by([canary, catch_all], request) == "echo-canary-header"
    decision = gloo.explain([catch_all, canary], request)
    assert (decision.route, decision.index, decision.passed_over) == ("catch-all", 0, ())


def test_gloo_matchers_are_ored_and_no_matchers_is_prefix_slash():
    """A route matches when any of its matchers does; a route without matchers matches prefix `/`."""
    both = route("both", {"exact": "/a"}, {"prefix": "/b"})
    assert gloo.route_matches(both, Request("/b/c")) and not gloo.route_matches(both, Request("/c"))
    assert gloo.route_matches({"routeAction": to("x")}, Request("/anything"))


def test_gloo_weights_share_and_all_zero_is_a_route_error():
    """A multi destination's share is weight / sum; weight 0 gets nothing; all zero breaks the route."""
    multi = {"matchers": [{"prefix": "/"}], "routeAction": {"multi": {"destinations": [
        {"destination": {"upstream": {"name": "a"}}, "weight": 3},
        {"destination": {"upstream": {"name": "b"}}, "weight": 1},
        {"destination": {"upstream": {"name": "c"}}, "weight": 0}]}}}
    decision = gloo.explain([multi], Request("/"))
    assert [(item["destination"]["upstream"]["name"], share) for item, share in decision.destinations] == [
        ("a", Fraction(3, 4)), ("b", Fraction(1, 4))]
    for item in multi["routeAction"]["multi"]["destinations"]:
        item["weight"] = 0
    assert gloo.route_request([multi], Request("/")).other == "all weights zero: route error"


def test_gloo_no_route_is_404_and_every_route_passed_over_says_why():
    routes = [
        route("health", {"exact": "/healthz"}),
        route("admin", {"prefix": "/echo", "methods": ["POST"]}),
        route("debug", {"prefix": "/echo", "headers": [{"name": "x-debug"}]}),
        route("query", {"prefix": "/echo", "queryParameters": [{"name": "v", "value": "2"}]}),
        route("two", {"prefix": "/a"}, {"regex": "/b[0-9]"}),
    ]
    decision = gloo.explain(routes, Request("/echo/x", query={"v": "1"}))
    assert decision.outcome == NO_ROUTE and decision.route is None
    assert decision.passed_over == (
        PassedOver("health", "path /echo/x is not exactly /healthz"),
        PassedOver("admin", "method GET is not POST"),
        PassedOver("debug", "header x-debug is missing"),
        PassedOver("query", "query parameter v is '1', not '2'"),
        PassedOver("two", "no matcher matches: #1: path /echo/x does not start with prefix /a; "
                          "#2: path /echo/x does not match regex /b[0-9] (the whole path must)"),
    )


def test_gloo_delegation_flattens_the_table_where_the_delegating_route_stood():
    """delegation/_index.md: Gloo "will flatten the non-delegated routes defined in config tree down to a
    single Proxy": a request no route of the table takes goes on to the routes after the delegation."""
    virtual_service = [route("vs-api", {"prefix": "/api"}), {"matchers": [{"prefix": "/"}], "delegateAction": {}},
                       route("vs-fallback", {"prefix": "/"})]
    table = [route("echo", {"prefix": "/echo"})]
    flat = gloo.flatten(virtual_service, [False, True, False], table)
    assert [(r.get("name"), i) for r, i in flat] == [("vs-api", None), ("echo", 0), ("vs-fallback", None)]
    assert taken_by([r for r, _ in flat], Request("/echo/a")) == "echo"
    assert taken_by([r for r, _ in flat], Request("/other")) == "vs-fallback"
    assert taken_by([r for r, _ in flat], Request("/api/echo")) == "vs-api"


def test_gloo_same_weight_tables_are_sorted_by_path():
    """route_ordering.md, "Same weight": exact first, then the longer prefix, then regexes "comparing the
    pattern text alphabetically": `/(?i)api/homepage.*` is placed before `/(?i)api/homepage-beta-flag.*`
    ('.' sorts after '-'). sort_routes.go `lessMatcher`: more methods first; a stable sort."""
    beta = route("beta", {"regex": "/(?i)api/homepage-beta-flag.*"})
    home = route("home", {"regex": "/(?i)api/homepage.*"})
    short = route("short", {"prefix": "/api"})
    long = route("long", {"prefix": "/api/homepage"})
    exact = route("exact", {"exact": "/api/homepage"})
    methods = route("methods", {"prefix": "/", "methods": ["GET"]})
    header_first = route("h", {"prefix": "/api", "headers": [{"name": "stage", "value": "canary"}]})
    ordered = gloo.sorted_by_path([short, header_first, beta, home, long, exact, methods])
    assert [r["name"] for r in ordered] == ["methods", "exact", "home", "beta", "long", "short", "h"]


# --- Gateway API ---------------------------------------------------------------------------------------


def httproute(name: str, rules: list[dict], created: str = "2026-01-01T00:00:00Z", namespace: str = "ns") -> dict:
    return {"metadata": {"name": name, "namespace": namespace, "creationTimestamp": created}, "spec": {"rules": rules}}


def rule(name: str, *matches: dict) -> dict:
    return {"name": name, "matches": list(matches), "backendRefs": [{"name": name, "port": 80}]}


def prefix(value: str, **rest) -> dict:
    return {"path": {"type": "PathPrefix", "value": value}, **rest}


def winner(routes: list[dict], request: Request) -> str | None:
    return gw.explain(routes, request).route


@pytest.mark.parametrize("path, taken", [("/abc", True), ("/abc/", True), ("/abc/def", True), ("/abcd", False)])
def test_gateway_api_path_prefix_matches_whole_elements(path, taken):
    """PathPrefix "matches full path elements ... the paths /abc, /abc/, and /abc/def would all match the
    prefix /abc, but the path /abcd would not". (Unlike Gloo's prefix.)"""
    assert gw.match_matches(prefix("/abc"), Request(path)) is taken
    assert gw.match_matches(prefix("/abc/"), Request(path)) is taken


def test_gateway_api_exact_beats_path_prefix():
    """Precedence: ""Exact" path match" first."""
    route_ = httproute("r", [rule("prefix", prefix("/echo")), rule("exact", {"path": {"type": "Exact",
                                                                                       "value": "/echo"}})])
    decision = gw.explain([route_], Request("/echo"))
    assert decision.route == "exact"
    assert decision.passed_over == (PassedOver("prefix", (
        "matches, but ranks below exact on an Exact path: PathPrefix of 5 characters, no method, 0 headers, "
        "0 query parameters against Exact path, no method, 0 headers, 0 query parameters")),)


def test_gateway_api_longest_prefix_wins():
    """""Prefix" path match with largest number of characters"."""
    route_ = httproute("r", [rule("short", prefix("/echo")), rule("long", prefix("/echo/api"))])
    assert winner([route_], Request("/echo/api/x")) == "long"
    assert winner([route_], Request("/echo/x")) == "short"


def test_gateway_api_method_beats_headers():
    """"Method match" before "Largest number of header matches"."""
    headers = [{"name": "a", "value": "1"}, {"name": "b", "value": "2"}]
    route_ = httproute("r", [rule("headers", prefix("/", headers=headers)), rule("method", prefix("/", method="GET"))])
    assert winner([route_], Request("/", headers={"a": "1", "b": "2"})) == "method"


def test_gateway_api_most_headers_win():
    """"Largest number of header matches": the canary header rule outranks the primary wherever it sits."""
    primary = rule("echo-primary", prefix("/echo"))
    header = rule("echo-canary-header", prefix("/echo", headers=[{"name": "stage", "value": "canary"}]))
    route_ = httproute("r", [primary, header])
    decision = gw.explain([route_], Request("/echo", headers={"stage": "canary"}))
    assert (decision.route, decision.index) == ("echo-canary-header", 1)
    assert decision.precedence == "PathPrefix of 5 characters, no method, 1 header, 0 query parameters"


def test_gateway_api_most_query_params_win():
    """"Largest number of query param matches"."""
    route_ = httproute("r", [rule("plain", prefix("/")),
                             rule("query", prefix("/", queryParams=[{"name": "v", "value": "2"}]))])
    assert winner([route_], Request("/", query={"v": "2"})) == "query"
    assert winner([route_], Request("/", query={"v": "1"})) == "plain"


def test_gateway_api_ties_go_to_the_oldest_route_then_by_name():
    """"If ties still exist across multiple Routes ...: The oldest Route based on creation timestamp. The
    Route appearing first in alphabetical order by "{namespace}/{name}"."""
    old = httproute("zeta", [rule("old", prefix("/"))], created="2025-01-01T00:00:00Z")
    new = httproute("alpha", [rule("new", prefix("/"))], created="2026-01-01T00:00:00Z")
    assert winner([new, old], Request("/")) == "old of HTTPRoute ns/zeta"
    same_b = httproute("b", [rule("b", prefix("/"))])
    same_a = httproute("a", [rule("a", prefix("/"))])
    decision = gw.explain([same_b, same_a], Request("/"))
    assert decision.route == "a of HTTPRoute ns/a"
    assert decision.passed_over == (PassedOver("b of HTTPRoute ns/b", (
        "matches with the same precedence as a of HTTPRoute ns/a, whose HTTPRoute is older (or first by name)")),)


def test_gateway_api_ties_within_a_route_go_to_the_first_rule():
    """"If ties still exist within an HTTPRoute, matching precedence MUST be granted to the FIRST matching rule
    (in list order)"."""
    route_ = httproute("r", [rule("first", prefix("/echo")), rule("second", prefix("/echo"))])
    decision = gw.explain([route_], Request("/echo"))
    assert decision.route == "first"
    assert decision.passed_over == (
        PassedOver("second", "matches with the same precedence as first, which comes first in the rules"),)


def test_gateway_api_header_names_are_case_insensitive_and_only_the_first_entry_counts():
    """HTTPHeaderMatch `name`: "Name matching MUST be case-insensitive"; "If multiple entries specify
    equivalent header names, only the first entry with an equivalent name MUST be considered"."""
    match = prefix("/", headers=[{"name": "Stage", "value": "canary"}, {"name": "stage", "value": "beta"}])
    assert gw.match_matches(match, Request("/", headers={"STAGE": "canary"}))


def test_gateway_api_no_matches_is_prefix_slash_and_no_rule_is_404():
    """"If no matches are specified, the default is a prefix path match on "/""; "When no rules matching a
    request have been successfully attached ... a HTTP 404 status code MUST be returned"."""
    route_ = httproute("r", [{"name": "all", "backendRefs": [{"name": "x"}]}])
    assert winner([route_], Request("/anything")) == "all"
    decision = gw.explain([httproute("r", [rule("echo", prefix("/echo"))])], Request("/echoes"))
    assert decision.outcome == NO_ROUTE
    assert decision.passed_over == (PassedOver("echo", "path /echoes is not under PathPrefix /echo (whole path "
                                                       "elements)"),)


def test_gateway_api_weights_share_and_all_zero_is_500():
    """backendRef `weight`: the share is weight / sum (default 1); 0 sends nothing."""
    refs = [{"name": "a", "weight": 90}, {"name": "b", "weight": 10}, {"name": "c", "weight": 0}]
    route_ = httproute("r", [{"name": "w", "backendRefs": refs}])
    decision = gw.explain([route_], Request("/"))
    assert [(ref["name"], share) for ref, share in decision.destinations] == [("a", Fraction(9, 10)),
                                                                              ("b", Fraction(1, 10))]
    for ref in refs:
        ref["weight"] = 0
    assert gw.route_request([route_], Request("/")).other == "all weights zero: 500"


def test_the_router_ranks_matches_as_the_model_does():
    """routers/gateway_api.py keeps the render from widening by the same precedence."""
    from kubectl_canary.routers.gateway_api import precedence

    for match in [prefix("/echo"), {"path": {"type": "Exact", "value": "/a"}}, prefix("/", method="GET"),
                  {"path": {"type": "RegularExpression", "value": "/v[0-9]"}},
                  prefix("/e", headers=[{"name": "a", "value": "1"}], queryParams=[{"name": "q", "value": "1"}])]:
        assert precedence(match) == gw.precedence(match)


# --- example requests ------------------------------------------------------------------------------------


def test_the_example_of_a_matcher_is_a_request_it_takes():
    matchers: list[dict] = [
        {"prefix": "/echo", "headers": [{"name": "stage", "value": "canary"}, {"name": "x-debug"},
                                        {"name": "x-tenant", "value": "b", "invertMatch": True}],
         "methods": ["POST"], "queryParameters": [{"name": "id", "value": r"\d+", "regex": True}]},
        {"regex": "/v[0-9]+/echo/[^/]+"},
        {"exact": "/healthz"},
    ]
    for matcher in matchers:
        request = examples.gloo_example(matcher)
        assert request is not None and gloo.matcher_matches(matcher, request), matcher
    assert examples.gloo_example(matchers[0]) == Request("/echo", "POST", {"stage": "canary", "x-debug": "1"},
                                                         {"id": "1"})
    match = {"path": {"type": "RegularExpression", "value": "/api/v[12]"}, "method": "PUT",
             "headers": [{"name": "x", "type": "RegularExpression", "value": "a+b"}]}
    request = examples.gateway_api_example(match)
    assert request == Request("/api/v1", "PUT", {"x": "ab"}) and gw.match_matches(match, request)


def test_canary_headers_are_added_as_each_condition_asks():
    request = examples.with_headers(Request("/echo", headers={"stage": "x"}), (
        HeaderMatch("stage", "canary"), HeaderMatch("x-present"), HeaderMatch("v", "2[0-9]", regex=True)))
    assert request == Request("/echo", headers={"stage": "canary", "x-present": "1", "v": "20"})
    assert examples.with_headers(Request("/", headers={"stage": "beta"}),
                                 (HeaderMatch("stage", "beta", invert_match=True),)) == Request("/")


# --- layering ----------------------------------------------------------------------------------------------


def _imports(path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_models_and_the_app_reading_are_pure():
    """request_routing/ imports only the standard library, itself and the pure rollout model: never the cluster,
    the routers' I/O or the commands."""
    import sys
    from pathlib import Path

    import kubectl_canary

    package = Path(kubectl_canary.__file__).parent
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    allowed = {"kubectl_canary.model.rollout", "kubectl_canary.errors"}
    for module in sorted((package / "request_routing").glob("*.py")):
        for name in _imports(module):
            own = name.startswith("kubectl_canary.request_routing") or name == "kubectl_canary.request_routing"
            assert name.split(".")[0] in stdlib or own or name in allowed, (module.name, name)
