"""Readiness as the Deployment controller judges it, and the guards' judgement by direction (pure)."""

from __future__ import annotations

import pytest
import yaml

from kubectl_canary.model.readiness import judge, max_unavailable, readiness_of, serving_problem
from kubectl_canary.model.rollout import Direction, Judgement


def deployment(text: str) -> dict:
    return yaml.safe_load(text)


# What a v1.36 API server returned for a Deployment of 2 replicas with 1 pod ready (maxUnavailable 25% of 2
# rounds down to 0, so the controller wants both): spec fields and conditions as the server fills them.
ONE_OF_TWO = deployment("""
metadata: {name: echo-v1, generation: 1}
spec:
  replicas: 2
  progressDeadlineSeconds: 600
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}
status:
  observedGeneration: 1
  replicas: 2
  updatedReplicas: 2
  readyReplicas: 1
  availableReplicas: 1
  unavailableReplicas: 1
  conditions:
  - {type: Available, status: "False", reason: MinimumReplicasUnavailable,
     message: Deployment does not have minimum availability.,
     lastUpdateTime: "2026-12-04T03:30:00Z", lastTransitionTime: "2026-12-04T03:30:00Z"}
  - {type: Progressing, status: "True", reason: ReplicaSetUpdated,
     message: ReplicaSet "echo-v1-6d4cf56db6" is progressing.}
""")

# A new pod template rolling out: one new pod starting, the two old ones serving.
ROLLING = deployment("""
metadata: {name: echo-v2, generation: 2}
spec: {replicas: 2}
status:
  observedGeneration: 2
  replicas: 3
  updatedReplicas: 1
  readyReplicas: 2
  availableReplicas: 2
  unavailableReplicas: 1
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable}
  - {type: Progressing, status: "True", reason: ReplicaSetUpdated}
""")

STUCK = deployment("""
metadata: {name: echo-v2, generation: 2}
spec: {replicas: 2}
status:
  observedGeneration: 2
  replicas: 3
  updatedReplicas: 1
  availableReplicas: 2
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable}
  - {type: Progressing, status: "False", reason: ProgressDeadlineExceeded}
""")

AVAILABLE = deployment("""
metadata: {name: echo-v2, generation: 3}
spec: {replicas: 4}
status:
  observedGeneration: 3
  replicas: 4
  updatedReplicas: 4
  availableReplicas: 3
  conditions:
  - {type: Available, status: "True", reason: MinimumReplicasAvailable}
  - {type: Progressing, status: "True", reason: NewReplicaSetAvailable}
""")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": 1}, 0),  # 25% of 1 rounds down to 0
        ({"replicas": 2}, 0),
        ({"replicas": 4}, 1),
        ({"replicas": 10}, 2),  # 2.5 rounds down
        ({"replicas": 10, "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "33%"}}}, 3),
        ({"replicas": 10, "strategy": {"rollingUpdate": {"maxUnavailable": 4}}}, 4),
        ({"replicas": 3, "strategy": {"rollingUpdate": {"maxUnavailable": 5}}}, 3),  # at most the replicas
        ({"replicas": 4, "strategy": {"type": "Recreate"}}, 0),
        ({"replicas": 0}, 0),
        # maxSurge 0 and 10% of 2 rounding down to 0: the controller allows one anyway.
        ({"replicas": 2, "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}}}, 1),
    ],
)
def test_max_unavailable_as_the_controller_rounds_it(spec, expected):
    assert max_unavailable(spec) == expected


def test_one_of_two_ready_goes_back_with_a_warning_and_never_toward():
    readiness = readiness_of(ONE_OF_TWO)
    assert (str(readiness), readiness.min_available, readiness.is_available) == ("1/2", 2, False)
    assert judge("echo-v1", "v1", ONE_OF_TWO, Direction.BACK) == Judgement("echo-v1", warning=(
        "deployment echo-v1 has 1/2 ready replicas, fewer than the 2 its Deployment needs to be available; the "
        "traffic goes back to v1 anyway (its ready pods serve): check them with kubectl rollout status "
        "deployment/echo-v1"))
    assert judge("echo-v1", "v1", ONE_OF_TWO, Direction.TOWARD) == Judgement("echo-v1", refusal=(
        "deployment echo-v1 has 1/2 ready replicas (its Deployment needs 2 to be available), so v1 cannot serve "
        "traffic yet; wait (kubectl rollout status deployment/echo-v1) or pass --force"))
    assert serving_problem(readiness) == "below its minimum availability (1/2 ready, its Deployment needs 2)"


def test_a_rollout_in_progress_takes_traffic_back_not_toward():
    readiness = readiness_of(ROLLING)
    assert readiness.is_available and readiness.rolling_out and not readiness.takes_new_traffic
    assert judge("echo-v2", "v2", ROLLING, Direction.BACK) == Judgement("echo-v2")
    assert judge("echo-v2", "v2", ROLLING, Direction.TOWARD).refusal == (
        "deployment echo-v2 has 2/2 ready replicas, but its rollout is in progress (1 of 2 replicas updated, 2 old "
        "still running), so more traffic would reach pods of its previous spec; wait (kubectl rollout status "
        "deployment/echo-v2) or pass --force")
    assert serving_problem(readiness) is None  # status: serving, not degraded


def test_a_stuck_rollout_is_refused_toward_and_degrades_status():
    readiness = readiness_of(STUCK)
    assert readiness.stuck and readiness.is_available
    assert judge("echo-v2", "v2", STUCK, Direction.TOWARD).refusal.startswith(
        "deployment echo-v2 has 2/2 ready replicas and its rollout exceeded its progress deadline")
    assert judge("echo-v2", "v2", STUCK, Direction.BACK) == Judgement("echo-v2")
    assert serving_problem(readiness) == "stuck: its rollout exceeded its progress deadline (ProgressDeadlineExceeded)"


def test_available_as_the_controller_says_though_not_every_replica_is():
    """3 of 4: `kubectl rollout status` would still wait; the controller calls it available, and so do the guards."""
    assert readiness_of(AVAILABLE).takes_new_traffic
    assert judge("echo-v2", "v2", AVAILABLE, Direction.TOWARD) == Judgement("echo-v2")


def test_not_observed_zero_replicas_and_missing():
    unobserved = deployment("""
metadata: {name: echo-v2, generation: 4}
spec: {replicas: 1}
status:
  observedGeneration: 3
  replicas: 1
  updatedReplicas: 1
  availableReplicas: 1
  conditions: [{type: Available, status: "True"}]
""")
    assert judge("echo-v2", "v2", unobserved, Direction.TOWARD).refusal == (
        "deployment echo-v2 has 1/1 ready replicas, but the Deployment controller has not yet seen its latest spec, "
        "so v2 cannot serve traffic yet; wait (kubectl rollout status deployment/echo-v2) or pass --force")
    assert judge("echo-v2", "v2", unobserved, Direction.BACK) == Judgement("echo-v2")
    scaled_to_zero = deployment("""
metadata: {name: echo-v1, generation: 1}
spec: {replicas: 0}
status: {observedGeneration: 1, conditions: [{type: Available, status: "True"}]}
""")
    for direction in (Direction.TOWARD, Direction.BACK):  # Available, but nothing serves
        assert judge("echo-v1", "v1", scaled_to_zero, direction).refusal.startswith(
            "deployment echo-v1 has 0/0 ready replicas, so v1 cannot serve traffic yet")
    assert judge("echo-v3", "v3", None, Direction.HEADER) == Judgement("echo-v3", missing=True)
    assert judge("echo-v3", "v3", scaled_to_zero, Direction.HEADER) == Judgement("echo-v3")  # opt-in requests
    assert serving_problem(None) == "missing"


def test_without_conditions_the_counts_decide_as_the_controller_would():
    """A status written by something other than the controller (manifest files offline) carries no conditions."""
    counts = {"metadata": {"name": "echo-v1"}, "spec": {"replicas": 4},
              "status": {"replicas": 4, "updatedReplicas": 4, "availableReplicas": 3}}
    assert readiness_of(counts).takes_new_traffic
    counts["status"]["availableReplicas"] = 2
    assert not readiness_of(counts).is_available
