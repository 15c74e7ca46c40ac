"""README.md as the e2e walkthroughs read it: the commands of a section (its indented code blocks, one
command per line, `\\` continuations joined) and the fenced block a command is followed by (the routes
or the output the README shows for it). The tests run those very strings, so a README that changes
changes what is run; a command a test looks for and no longer finds fails the test, naming it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^\s*```(\S*)\s*$")


@dataclass
class Block:
    kind: str  # "commands" (an indented code block) or "fenced"
    text: str
    lang: str = ""
    commands: list[str] = field(default_factory=list)

    def data(self) -> object:
        return yaml.safe_load(self.text)


@dataclass
class Section:
    title: str
    text: str
    blocks: list[Block]

    def commands(self) -> list[str]:
        return [command for block in self.blocks for command in block.commands]

    def command(self, starting: str) -> str:
        """The one command of the section's code blocks that starts with `starting`."""
        found = [c for c in self.commands() if c.startswith(starting)]
        assert len(found) == 1, f"README section {self.title!r} shows {len(found)} commands starting {starting!r}"
        return found[0]

    def inline(self, code: str) -> str:
        """`code` as the section's prose shows it, in backquotes."""
        assert f"`{code}`" in " ".join(self.text.split()), f"README section {self.title!r} no longer shows `{code}`"
        return code

    def after(self, command: str) -> list[Block]:
        """The fenced blocks between `command` (a command of a code block, or inline code) and the next
        code block: what the README shows that command does."""
        position = self._position(command)
        shown = []
        for block in self.blocks[position + 1:]:
            if block.kind == "commands":
                break
            shown.append(block)
        return shown

    def _position(self, command: str) -> int:
        for index, block in enumerate(self.blocks):
            if command in block.commands or (block.kind == "inline" and block.text == command):
                return index
        raise AssertionError(f"README section {self.title!r} does not show {command!r}")


def _commands(lines: list[str]) -> list[str]:
    commands: list[str] = []
    pending = ""
    for raw in lines:
        line = raw[4:] if raw.startswith("    ") else raw.strip()
        if pending:
            pending += "\n" + line
        elif not line.strip() or line.lstrip().startswith("#"):
            continue
        else:
            pending = line
        if not pending.rstrip().endswith("\\"):
            commands.append(pending)
            pending = ""
    if pending:
        commands.append(pending)
    return commands


def _blocks(lines: list[str]) -> list[Block]:
    """Indented code blocks, fenced blocks, and inline `kubectl ...` code of the prose, in order."""
    blocks: list[Block] = []
    index = 0
    previous_blank = True
    prose: list[str] = []

    def paragraph_ends() -> None:  # inline code may wrap onto the next line of its paragraph
        for code in re.findall(r"`(kubectl [^`]+)`", " ".join(prose)):
            blocks.append(Block("inline", code))
        prose.clear()

    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        if fence or (previous_blank and line.startswith("    ") and line.strip()) or not line.strip():
            paragraph_ends()
        if fence:
            indent = len(line) - len(line.lstrip())
            end = index + 1
            while end < len(lines) and not FENCE.match(lines[end]):
                end += 1
            body = "\n".join(raw[indent:] for raw in lines[index + 1:end])
            blocks.append(Block("fenced", body + "\n", fence.group(1)))
            index, previous_blank = end + 1, False
            continue
        if previous_blank and line.startswith("    ") and line.strip():
            end = index
            while end < len(lines) and (lines[end].startswith("    ") or not lines[end].strip()):
                end += 1
            while end > index and not lines[end - 1].strip():
                end -= 1
            chunk = lines[index:end]
            blocks.append(Block("commands", "\n".join(chunk), commands=_commands(chunk)))
            index, previous_blank = end, False
            continue
        if line.strip():
            prose.append(line.strip())
        previous_blank = not line.strip()
        index += 1
    paragraph_ends()
    return blocks


def section(title: str, readme: Path = README, *, subsections: bool = True) -> Section:
    """The section headed `title` (any level), up to the next heading of the same or a higher level; without
    `subsections`, up to its first subsection (a walkthrough's own steps, not its asides)."""
    lines = readme.read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^(#+) (.*)$", line)
        if match and match.group(2).strip() == title:
            level = len(match.group(1))
            end = index + 1
            in_fence = False
            while end < len(lines):
                if FENCE.match(lines[end]):
                    in_fence = not in_fence
                heading = None if in_fence else re.match(r"^(#+) ", lines[end])
                if heading and (len(heading.group(1)) <= level or not subsections):
                    break
                end += 1
            body = lines[index + 1:end]
            return Section(title, "\n".join(body), _blocks(body))
    raise AssertionError(f"README.md has no section {title!r}")


def table_lines(text: str) -> list[str]:
    """A shown command output's lines; a line ending in `...` stands for any line starting as it does."""
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def output_matches(shown: str, actual: str) -> bool:
    expected, got = table_lines(shown), table_lines(actual)
    if len(expected) != len(got):
        return False
    return all(g.startswith(e[:-3]) if e.endswith("...") else g == e for e, g in zip(expected, got))
