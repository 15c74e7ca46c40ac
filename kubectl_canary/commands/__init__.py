"""The verbs of `kubectl canary`, one module each."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from kubectl_canary.invocation import Invocation


@dataclass(frozen=True)
class Command:
    name: str
    short: str
    long: str
    examples: str
    mutating: bool
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Invocation], int]


def _all() -> tuple[Command, ...]:
    from kubectl_canary.commands import abort, finish, header, init, status, weight

    return (init.COMMAND, header.COMMAND, weight.COMMAND, finish.COMMAND, abort.COMMAND, status.COMMAND)


COMMANDS = _all()
