"""`status -o json` of many apps is written as it is made, and is byte for byte what `render` gives."""

from __future__ import annotations

import argparse
import io
from fractions import Fraction

import pytest

from kubectl_canary.commands.status import _write_json_list, render
from kubectl_canary.model.rollout import HeaderMatch, RolloutState
from kubectl_canary.model.status_view import AppStatus


def statuses(count: int) -> list[AppStatus]:
    made = []
    for i in range(count):
        canary = "v2" if i % 2 else None
        weight = (Fraction(25, 2) if i % 3 == 1 else Fraction(50)) if canary else None
        state = RolloutState(f"app{i}", "v1", canary, weight, (HeaderMatch("stage", "canary"),) if canary else ())
        made.append(AppStatus(f"app{i}", f"ns{i % 2}", f"app{i}-routes", state, None, None,
                              "Rejected" if i == 2 else "Accepted", "bad \u00e9 \"route\"" if i == 2 else ""))
    return made


@pytest.mark.parametrize("count", [0, 1, 3, 600])
@pytest.mark.parametrize("notes", [(), ("httproutes is forbidden (forbidden), so apps on gateway-api are not shown",)])
def test_streamed_json_is_renders_json(count, notes):
    out = io.StringIO()
    _write_json_list(out, statuses(count), notes)
    args = argparse.Namespace(output="json", app=None, all_namespaces=True)
    assert out.getvalue() == render(args, None, statuses(count), notes) + "\n"  # type: ignore[arg-type]
