"""`kubectl canary version`: the plugin's version (also `kubectl canary --version`)."""

from __future__ import annotations

import argparse

from kubectl_canary import __version__
from kubectl_canary.commands import Command
from kubectl_canary.workflow.invocation import Invocation

LONG = """\
Prints the version of the plugin, as `kubectl canary --version` does. Needs no cluster."""

EXAMPLES = """\
  # Print the plugin's version
  kubectl canary version"""


def version_line() -> str:
    return f"kubectl-canary v{__version__}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    print(version_line(), file=invocation.out)
    return 0


COMMAND = Command(
    name="version",
    short="Print the version of kubectl-canary",
    long=LONG,
    examples=EXAMPLES,
    mutating=False,
    add_arguments=add_arguments,
    run=run,
)
