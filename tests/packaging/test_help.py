"""`kubectl canary VERB -h`: a short description, the long one, and examples, as kubectl shows them."""

from __future__ import annotations

import pytest

from kubectl_canary.cli import main
from kubectl_canary.commands import Command, all_commands

COMMANDS = all_commands()


def help_of(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "-h"])
    assert exited.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_every_verb_has_a_description_and_examples(command: Command, capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys, command.name)
    assert text.startswith(f"usage: kubectl canary {command.name} ")
    assert command.short in text and command.short[0].isupper() and "\n" not in command.short
    examples = text.split("\nExamples:\n", 1)[1].splitlines()
    assert any(line.startswith(f"  kubectl canary {command.name}") for line in examples)
    assert all(not line or line.startswith("  ") for line in examples)  # indented, as kubectl's


def test_the_root_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_of(capsys)
    for command in COMMANDS:
        assert command.name in text
    assert "__complete" not in text
