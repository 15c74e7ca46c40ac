"""The verbs of `kubectl canary`, one module each."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kubectl_canary.kube.permissions import Permission
from kubectl_canary.workflow.invocation import Invocation

if TYPE_CHECKING:
    from kubectl_canary.workflow.ending import Ending


@dataclass(frozen=True)
class Command:
    """A verb: its help texts, whether it changes routes, its flags and what runs it."""

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


def ending_command(ending: Ending, *, short: str, long: str, examples: str, keep: tuple[str, str], force: str
                   ) -> Command:
    """A verb that ends the rollout (finish, abort): APP, the flag `keep` = (flag, help) that keeps the leaving
    version's Deployment, and --force (`force`: its help). Both run workflow/ending.py's one body."""
    from kubectl_canary.workflow.ending import PERMISSIONS, end_rollout

    keep_flag, keep_help = keep

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("app", metavar="APP")
        parser.add_argument(keep_flag, action="store_true", help=keep_help)
        parser.add_argument("--force", action="store_true", help=force)

    def run(args: argparse.Namespace, invocation: Invocation) -> int:
        return end_rollout(invocation, ending, ending.plan(args))

    return Command(ending.verb, short, long, examples, True, add_arguments, run, PERMISSIONS)
