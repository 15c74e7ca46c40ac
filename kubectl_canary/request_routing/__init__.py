"""Where a gateway sends a request, given its routes: models of the routing rules as documented. Pure.

- `requests.py`: the request, the outcome (destinations and shares) and the explained decision both
  models return;
- `gloo.py`: Gloo Edge (Envoy) first match, in the order of the VirtualService and its RouteTables;
- `gateway_api.py`: the Gateway API's precedence across the rules of HTTPRoutes;
- `examples.py`: a request that a route's matcher (or an HTTPRoute's match) takes, to ask the models
  "where does a request for this path go" without the user spelling one.

Nothing here reads the cluster or knows the rollout's commands: `kubectl canary route`, `status` and the
property tests (tests/safety/) give the models route objects and requests, and print or check the answer.
"""
