"""The verbs of `kubectl canary`, one module each."""

from __future__ import annotations

import argparse
import importlib
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


# Each verb's module is imported only when that verb runs (or for the root help and completion):
# importing all of them would cost every command 10-20 ms of imports it does not use.
VERB_NAMES = (
    "init",
    "adopt",
    "header",
    "weight",
    "finish",
    "abort",
    "status",
    "route",
    "shadow",
    "migrate",
    "history",
    "rbac",
    "completion",
    "version",
)


def load(name: str) -> Command:
    command: Command = importlib.import_module(f"kubectl_canary.commands.{name}").COMMAND
    return command


def all_commands() -> tuple[Command, ...]:
    return tuple(load(name) for name in VERB_NAMES)
