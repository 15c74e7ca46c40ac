"""A fake Kubernetes API server for the tests of kubectl-canary (test-only; standard library + PyYAML).

    with FakeApiServer() as api:
        api.write_kubeconfig(tmp_path / "kubeconfig", namespace="echo")
        api.create({...})                      # seed (owned by the field manager "fake-seed")
        ...run the plugin, the `kubernetes` client or kubectl against it...
        api.requests                           # what was asked, with status and field manager
        api.inject_fault(Fault.drop(), method="PATCH", path_contains="/routetables/")

It speaks HTTP/1.1 (keep-alive, TCP_NODELAY, Content-Length on every non-streaming answer) on one port of
127.0.0.1, both plain (`api.url`) and TLS (`api.https_url`, a self-signed certificate for 127.0.0.1,
localhost, fake-a.test, fake-b.test and api.fake.test kept in tls/). Kubeconfigs point at the TLS side
because client-go (kubectl) sends no credentials over plain HTTP. Every request needs `Authorization:
Bearer <token>` with a token of `accept_tokens` (default: `api.token`), or a TLS client certificate signed
by tls/client-ca.crt (tls/alice.*, tls/bob.*), else 401. Each request is recorded with the server's
`name`, the peer port, the SNI name, the client certificate's subject, Authorization, the Impersonate-*
headers and the User-Agent (`api.requests`), for the connection tests. It serves discovery well enough
for a real kubectl, and namespaces, services, events, configmaps, apps/v1 deployments, gloo.solo.io/v1
upstreams and gateway.solo.io/v1 routetables and virtualservices, and the Gateway API's
gateway.networking.k8s.io/v1 gateways and httproutes (status subresource) and v1beta1 referencegrants.
`GatewayController` (gateway_controller.py) stands in for a Gateway API implementation: it writes each
HTTPRoute's `status.parents` (Accepted, ResolvedRefs, with observedGeneration) after a delay.

Faithful, because the plugin's correctness depends on it:
- metadata: uid, creationTimestamp, generation (1; +1 when anything outside metadata changes, and outside
  status for kinds with a status subresource), a global resourceVersion bumped by every write that
  changes something (a no-op write changes nothing, as on a real server); 201 on create; generateName;
- errors are `Status` objects with the real reasons, codes, messages and details (404, 409 AlreadyExists /
  Conflict, 422 Invalid, 415, 400, 403, 401);
- optimistic concurrency: a write (PUT, any PATCH, an apply even with force=true) carrying a stale
  metadata.resourceVersion gets 409 Conflict; a PUT of a custom resource without one gets 422 (they do
  not allow unconditional updates; built-in kinds do);
- JSON merge patch, JSON patch (a failed `test` op: 422), strategic merge for built-in kinds only (custom
  resources: 415 listing the accepted patch types), server-side apply (fieldManager required, create if
  absent with 201, maps merge, lists atomic, `force`; body in JSON or YAML);
- managedFields in the FieldsV1 format, one entry per (manager, operation). Updates take the fields they
  change. An Apply conflicts on the fields another entry owns and that it would change, worded like the
  real server: `Apply failed with 1 conflict: conflict with "helm": .spec.routes` for an Apply owner,
  `... conflict with "kubectl-edit" using gateway.solo.io/v1 at <time>: ...` for an Update owner, with
  details.causes [{reason: FieldManagerConflict, message, field}]. The same value means shared ownership;
  force moves the fields; fields a manager stops applying are removed when nobody else owns them. As on
  a real server, an Apply by M also conflicts with M's own Update entry;
- dryRun=All on every write; DELETE preconditions (resourceVersion, uid); label selectors and field
  selectors (metadata.name, metadata.namespace); boolean query parameters parsed like Go (`watch=True`);
- watches: ADDED for the current state (no resourceVersion, or "0") or the recorded history after a
  resourceVersion, MODIFIED/DELETED, ADDED/DELETED when an object starts/stops matching the selectors,
  timeoutSeconds, an ERROR 410 Expired event for a resourceVersion older than the history;
- validation of upstreams, routetables and virtualservices against compact schemas the repository carries
  (schemas/: the real CRDs' openAPIV3Schema cut down to the fields the plugin and its tests use, with the
  real types, enums, bounds, required fields, nullability and defaults; tests/test_schema_drift.py checks
  them against the upstream CRDs), and of names and labels for every kind; CRD `default`s are filled on
  every write (Gloo's `status: {statuses: {}}`), as the real server does;
- kinds with a status subresource (Deployment, Service, Namespace) keep their status on writes to the
  main resource and take it through `/status`; the Gloo kinds have none, so their status is an ordinary
  field there (changing it bumps generation, as on a real server);
- LIST items of built-in kinds carry no apiVersion/kind (typed lists); those of custom resources do;
- an API group the server does not serve (`unserve(group)`: its CRDs not installed, or any unknown group) is
  absent from discovery, and every path under it gets a plain-text `404 page not found` (no Status); an
  unknown resource of a served group gets a NotFound Status with empty details, as on a real server (v1.36).

Known differences from a real API server:
- stricter: unknown fields in a custom resource get 422 Invalid naming the field (a real server prunes
  them with a warning; with fieldValidation=Strict both answer 400 "strict decoding error"), so typos in
  our renderers fail loudly; "unknown" means not in the compact schema, so a real field that no test used
  before is rejected until it is added to schemas/fields.txt;
- CEL rules (`x-kubernetes-validations`) are carried in the schemas; only those in validation_rules.py
  (HTTPRoute: 128 matches in all, Service refs need a port, mirror percent xor fraction, filter fields,
  absolute paths) are evaluated;
- stricter: an apply whose body carries a resourceVersion for an object that does not exist gets 409;
- no defaulting of built-in kinds (not spec.replicas, not a Service's clusterIP), no admission, no
  controllers: Deployment status changes only through `set_deployment_ready` / `set_deployment_status` /
  `auto_ready` (counts and conditions as the Deployment controller computes them: Available when
  availableReplicas >= replicas - maxUnavailable, Progressing with ReplicaSetUpdated, NewReplicaSetAvailable
  or ProgressDeadlineExceeded; a rolling update's old pods counted in replicas and availableReplicas), Gloo
  status only through `replace`/`/status` writes; deleting a namespace deletes its objects at once;
- no validation of built-in kinds beyond metadata;
- simplified strategic merge: a fixed table of list fields merge by key (containers by name, ports by
  containerPort/port, env by name, ...), every other list is replaced; `$patch: delete|replace` honoured,
  other directives ignored;
- field ownership treats every list as atomic (a real server keys the containers, ports, ... of built-in
  kinds by their merge key), ignores status, and ignores managedFields sent by clients;
- RBAC only as `forbid()` (403 for a verb or method on a resource) and `grant(rules)` (403 for anything the
  rules do not grant), by apiGroup, resource and verb, ignoring namespaces and resourceNames; a 403 comes
  before routing, as on a real server; impersonation headers are recorded, never checked or applied
  (a real server needs the `impersonate` verb and answers as the impersonated user); one server
  certificate whatever the SNI name;
- pagination: `limit`/`continue` page a LIST, but the continue token is an offset (a real one is opaque
  and serves the snapshot of the first page; here objects written between pages may shift them), and
  it never expires (no 410);
- `Retry-After` only on the throttle fault (`Fault.throttle`), `Warning` headers only as set by
  `add_response_header`;
- no protobuf, no Table output (kubectl prints NAME/AGE itself), no watch bookmarks, no /openapi (404:
  `kubectl get/patch` cope; `kubectl apply` needs `--validate=false`);
- PUT never creates; DELETE is immediate (no finalizers, no graceful deletion, propagationPolicy
  ignored).
"""

from .faults import Fault
from .fixtures import fake_api
from .server import FakeApiServer, RequestRecord
from .status import ApiError

__all__ = ["ApiError", "FakeApiServer", "Fault", "RequestRecord", "fake_api"]
