"""The verbs of `kubectl canary`, one module each."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from kubectl_canary.invocation import Invocation
from kubectl_canary.permissions import Permission


@dataclass(frozen=True)
class Command:
    name: str
    short: str
    long: str
    examples: str
    mutating: bool
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Invocation], int]
    # What the command may ask the API server for, in the app's namespace.
    permissions: tuple[Permission, ...] = ()


def _all() -> tuple[Command, ...]:
    from kubectl_canary.commands import (
        abort,
        completion,
        finish,
        header,
        history,
        init,
        rbac,
        shadow,
        status,
        version,
        weight,
    )

    return (
        init.COMMAND,
        header.COMMAND,
        weight.COMMAND,
        finish.COMMAND,
        abort.COMMAND,
        status.COMMAND,
        shadow.COMMAND,
        history.COMMAND,
        rbac.COMMAND,
        completion.COMMAND,
        version.COMMAND,
    )


COMMANDS = _all()
