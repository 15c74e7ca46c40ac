"""Offline mode on a Gateway API app: the HTTPRoute's rules change, the canary's Service joins its Deployment."""

from __future__ import annotations

import pytest

from tests.gitops.golden import assert_matches_snapshot, checkout, run
from tests.gitops.test_plain_manifests import ABORTED, ROLLOUT


@pytest.mark.parametrize("name, phases", [("rollout", ROLLOUT), ("aborted", ABORTED)])
def test_every_phase_on_the_httproute(tmp_path, name, phases):
    repo = checkout("gateway-api", tmp_path)
    for phase, args in phases:
        result = run(*args, "--local", "-f", str(repo))
        assert result.code == 0, result.err
        assert_matches_snapshot(repo, f"gateway-api-{name}/{phase}")
