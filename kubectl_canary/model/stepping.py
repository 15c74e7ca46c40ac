"""The weights a stepped rollout goes through. Pure."""

from __future__ import annotations

from fractions import Fraction

from kubectl_canary.errors import UsageError
from kubectl_canary.model.rollout import parse_percent


def parse_steps(text: str) -> list[Fraction]:
    try:
        steps = [parse_percent(part) for part in text.split(",") if part.strip()]
    except UsageError:
        steps = []
    if not steps:
        raise UsageError(f"invalid --steps {text!r}: give percentages from 0 to 100, e.g. 1,5,25,50,100")
    return steps


def plan_steps(
    current: Fraction, target: Fraction, *, step: int | None = None, steps: list[Fraction] | None = None
) -> list[Fraction]:
    """The weights to apply after `current`, ending exactly on `target`.

    `step` moves by a fixed amount; `steps` lists the weights to stop at (those between current
    and target are used, in the direction of travel).
    """
    if step is not None and step <= 0:
        raise UsageError(f"invalid --step {step}: use a whole number of percent above 0")
    if current == target:
        return []
    direction = 1 if target > current else -1
    if steps is not None:
        between = [s for s in steps if direction * current < direction * s < direction * target]
        chosen = sorted(set(between), reverse=direction < 0)
    elif step is not None:
        chosen = []
        weight = current + direction * step
        while direction * weight < direction * target:
            chosen.append(weight)
            weight += direction * step
    else:
        chosen = []
    return [*chosen, target]
