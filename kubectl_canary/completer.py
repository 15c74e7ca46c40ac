"""Shell completion for `kubectl canary` (through kubectl) and `kubectl-canary` (called directly).

kubectl >= 1.26 completes `kubectl canary ARG... WORD<TAB>` by running the executable
`kubectl_complete-canary ARG... WORD` found on PATH (WORD is empty when a new word starts). It
reads one candidate per line, `value` or `value<TAB>description`, and a last line `:<directive>`,
Cobra's ShellCompDirective bit field. `kubectl-canary __complete ARG... WORD` answers the same
way; the scripts of `kubectl canary completion bash|zsh|fish` call it.

Subcommands, flags and fixed values come from the argument parser (arguments.py) and never touch
the cluster. App names are those of the namespace's route objects, RouteTables `<app>-routes` and
HTTPRoutes `<app>`, and the apps recorded on shared ones (`-n`, `--kubeconfig`, `--context` given
earlier on the line apply), read with one LIST per router; the version after `header APP` from the
app's route object. Any failure there completes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Cobra's ShellCompDirective bits.
DIRECTIVE_DEFAULT = 0  # the shell may fall back to file names
DIRECTIVE_ERROR = 1
DIRECTIVE_NO_SPACE = 2
DIRECTIVE_NO_FILE_COMP = 4
DIRECTIVE_KEEP_ORDER = 32

PERCENTS = ("0", "10", "25", "50", "75", "100")
# A shell waits for us: never as long as a command may (--request-timeout still lowers it).
COMPLETION_TIMEOUT = 5.0
# Verbs whose APP names an app that does not exist yet.
_NEW_APP_VERBS = frozenset({"init"})


@dataclass
class Completions:
    """Words offered to the shell, and the directive that says what the shell does besides."""

    candidates: list[tuple[str, str]] = field(default_factory=list)  # (value, description)
    directive: int = DIRECTIVE_NO_FILE_COMP

    def render(self) -> str:
        lines = [f"{value}\t{description}" if description else value for value, description in self.candidates]
        return "".join(line + "\n" for line in lines) + f":{self.directive}\n"


@dataclass
class _Line:
    """What the words before the one being completed say."""

    parser: argparse.ArgumentParser
    verb: str | None = None
    positionals: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)  # dest -> value of the flags given
    pending: argparse.Action | None = None  # a flag still waiting for its value
    after_dashes: bool = False


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {option: action for action in parser._actions for option in action.option_strings}


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _visible(action: argparse.Action) -> bool:
    return action.help != argparse.SUPPRESS


def _describe(action: argparse.Action) -> str:
    text = " ".join(str(action.help or "").split())
    if "%(" in text:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            text = text % {**vars(action), "prog": ""}
    return text


def _typed(action: argparse.Action, text: str) -> Any:
    """The value as the command would see it (e.g. a duration in seconds); the text if it is invalid."""
    if callable(action.type):
        try:
            return action.type(text)
        except Exception:
            return text
    return text


def _read_line(root: argparse.ArgumentParser, words: Sequence[str]) -> _Line:
    line = _Line(parser=root)
    verbs = _subparsers(root)
    flags = _flags(root)
    for word in words:
        if line.pending is not None:
            # nargs="?" (--dry-run) takes the next word only when it does not look like a flag.
            if not (line.pending.nargs == "?" and word.startswith("-")):
                line.values[line.pending.dest] = _typed(line.pending, word)
                line.pending = None
                continue
            line.pending = None
        if word == "--" and not line.after_dashes:
            line.after_dashes = True
            continue
        if word.startswith("-") and word != "-" and not line.after_dashes:
            name, equals, value = word.partition("=")
            action = flags.get(name)
            if action is None and not name.startswith("--") and len(name) > 2:  # -nNAMESPACE
                action, equals, value = flags.get(name[:2]), "=", name[2:]
            if action is None:
                continue
            if equals:
                line.values[action.dest] = _typed(action, value)
            elif _takes_value(action):
                line.values[action.dest] = action.const if action.nargs == "?" else None
                line.pending = action
            else:
                line.values[action.dest] = True
            continue
        if line.verb is None and not line.positionals and word in verbs:
            line.verb, line.parser = word, verbs[word]
            flags = _flags(line.parser)
            continue
        line.positionals.append(word)
    return line


def _matching(values: Iterable[tuple[str, str]], prefix: str) -> list[tuple[str, str]]:
    return [(value, description) for value, description in values if value.startswith(prefix)]


def _flag_names(line: _Line, prefix: str) -> Completions:
    seen: set[str] = set()
    candidates = []
    for action in line.parser._actions:
        if not action.option_strings or not _visible(action):
            continue
        repeatable = isinstance(action, argparse._AppendAction)
        if action.dest in line.values and not repeatable and not isinstance(action, argparse._HelpAction):
            continue
        for option in action.option_strings:
            if option not in seen:
                seen.add(option)
                candidates.append((option, _describe(action)))
    return Completions(_matching(candidates, prefix))


def _flag_value(line: _Line, action: argparse.Action, prefix: str, *, spelled: str = "") -> Completions:
    """Values for `action`; `spelled` is `--flag=` when the value shares the word with the flag."""
    if action.choices is not None:
        values = [(f"{spelled}{choice}", "") for choice in action.choices]
        return Completions(_matching(values, spelled + prefix))
    if action.dest in ("kubeconfig", "certificate_authority", "client_certificate", "client_key"):
        return Completions(directive=DIRECTIVE_DEFAULT)  # a file name
    if action.dest in ("context", "cluster", "user") and (line.verb != "rbac" or action.dest != "user"):
        names = _kubeconfig_names(line, action.dest + "s")
        return Completions(_matching(((f"{spelled}{c}", "") for c in names), spelled + prefix))
    if action.dest == "namespace":
        return Completions(_matching(((f"{spelled}{n}", "") for n in _namespaces(line)), spelled + prefix))
    if action.dest == "after":  # route --after 'VERB ARGS': the routing verbs (quote the verb with its arguments)
        from kubectl_canary.commands.route import ROUTING_VERBS

        return Completions(_matching(((f"{spelled}{verb}", "") for verb in ROUTING_VERBS), spelled + prefix))
    return Completions()


def _positional(line: _Line, prefix: str) -> Completions:
    if line.verb is None:
        if line.positionals:
            return Completions()
        root_actions = line.parser._actions
        helps = {
            choice.dest: str(choice.help or "")
            for action in root_actions
            if isinstance(action, argparse._SubParsersAction)
            for choice in action._choices_actions
        }
        return Completions(_matching(((verb, helps.get(verb, "")) for verb in _subparsers(line.parser)), prefix))
    positionals = [a for a in line.parser._actions if not a.option_strings]
    index = len(line.positionals)
    if index >= len(positionals):
        return Completions()
    action = positionals[index]
    if action.choices is not None:
        return Completions(_matching(((str(c), "") for c in action.choices), prefix))
    if action.dest == "app" and line.verb not in _NEW_APP_VERBS and not line.values.get("all_namespaces"):
        return Completions(_matching(_apps(line), prefix))
    if action.dest == "percent":
        percents = _matching(((p, "") for p in PERCENTS), prefix)
        return Completions(percents, DIRECTIVE_NO_FILE_COMP | DIRECTIVE_KEEP_ORDER)
    if action.dest == "canary_version" and line.positionals:
        return Completions(_matching(((v, "") for v in _next_versions(line, line.positionals[0])), prefix))
    return Completions()


def complete(args: Sequence[str], parser: argparse.ArgumentParser | None = None) -> Completions:
    """Completions of the last of `args` (possibly empty), the words before it as typed."""
    if parser is None:
        from kubectl_canary.arguments import build_parser

        parser = build_parser()
    words, current = list(args[:-1]), (args[-1] if args else "")
    line = _read_line(parser, words)
    # After a flag that takes a value, its values; a --dry-run without one may be followed by a flag.
    if line.pending is not None and (line.pending.nargs != "?" or not current.startswith("-")):
        return _flag_value(line, line.pending, current)
    if current.startswith("-") and not line.after_dashes:
        name, equals, value = current.partition("=")
        action = _flags(line.parser).get(name)
        if equals and action is not None and _takes_value(action):
            return _flag_value(line, action, value, spelled=f"{name}=")
        return _flag_names(line, current)
    return _positional(line, current)


# --- what needs the kubeconfig or the cluster -------------------------------------------------


def _connection(line: _Line) -> Any:
    from kubectl_canary.arguments import connection_options

    timeout = line.values.get("request_timeout")
    values = {**line.values, "user": None} if line.verb == "rbac" else line.values
    bounded = min(timeout, COMPLETION_TIMEOUT) if isinstance(timeout, float) and timeout else COMPLETION_TIMEOUT
    return connection_options({**values, "request_timeout": bounded})


def _connect(line: _Line) -> tuple[Any, str]:
    from kubectl_canary.kube.cluster import connect

    cluster, context_namespace = connect(_connection(line), field_manager="kubectl-canary", dry_run="none")
    namespace = line.values.get("namespace") or context_namespace
    return cluster, namespace


def _apps(line: _Line) -> list[tuple[str, str]]:
    """(app, phase and versions) for every app's route object in the namespace: one LIST per router."""
    from kubectl_canary.routers import ROUTERS

    try:
        cluster, namespace = _connect(line)
    except Exception:  # completion never fails loudly: no candidates instead
        return []
    from kubectl_canary.model.app_names import recorded_apps

    apps = []
    for router in ROUTERS.values():
        try:
            objects = cluster.list(router.resource, namespace)
        except Exception:  # e.g. that gateway's API is not installed
            continue
        for obj in objects:
            app = router.app_of(str((obj.get("metadata") or {}).get("name") or ""))
            if app is not None and router.holds_app(app, router.routes_of(obj)):
                apps.append((app, _summary(router.name, _state(router, app, obj))))
            # Apps recorded on a route object shared by several (app_names.py).
            for recorded in recorded_apps(obj):
                apps.append((recorded, _summary(router.name, _state(router, recorded, obj))))
    return sorted(set(apps))


def _state(router: Any, app: str, obj: dict[str, Any]) -> Any:
    try:
        return router.read(app, obj).state
    except Exception:
        return None


def _summary(router: str, state: Any) -> str:
    from kubectl_canary.model.rollout import format_percent

    if state is None:
        return router
    if state.canary is None:
        return f"{router}: stable on {state.primary}"
    if state.weight is None:
        return f"{router}: header: {state.canary} (primary {state.primary})"
    return f"{router}: weighted: {format_percent(state.weight)}% to {state.canary} (primary {state.primary})"


def _next_versions(line: _Line, app: str) -> list[str]:
    """The canary of a running rollout, else the version after the primary (v1 -> v2)."""
    from kubectl_canary.routers import find_app

    try:
        cluster, namespace = _connect(line)
        found = find_app(cluster, namespace, app, line.values.get("router"))
        state = _state(found[0], app, found[1]) if found else None
    except Exception:
        return []
    if state is None:
        return []
    if state.canary is not None:
        return [state.canary]
    match = re.fullmatch(r"(.*?)(\d+)", state.primary)
    return [f"{match.group(1)}{int(match.group(2)) + 1}"] if match else []


def _namespaces(line: _Line) -> list[str]:
    from kubectl_canary.model.resources import NAMESPACES

    try:
        cluster, _ = _connect(line)
        items = cluster.list(NAMESPACES, None)
    except Exception:
        return []
    return sorted(str((item.get("metadata") or {}).get("name") or "") for item in items)


def _kubeconfig_names(line: _Line, kind: str) -> list[str]:
    """Names of contexts, clusters or users in the kubeconfig files (no cluster is asked)."""
    import os

    from kubectl_canary.kube.kubeconfig import KubeconfigError, kubeconfig_paths, read_kubeconfigs

    explicit = line.values.get("kubeconfig") or None
    try:
        merged = read_kubeconfigs(kubeconfig_paths(explicit, os.environ), explicit=bool(explicit))
    except KubeconfigError:
        return []
    names: dict[str, Any] = getattr(merged, kind)
    return sorted(names)


# --- entry points -----------------------------------------------------------------------------


def run_hidden(args: Sequence[str]) -> int:
    """`kubectl-canary __complete ARG... WORD`."""
    try:
        completions = complete(args)
    except Exception:
        completions = Completions(directive=DIRECTIVE_ERROR)
    sys.stdout.write(completions.render())
    sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `kubectl_complete-canary` executable kubectl runs (installed by pip as a console script)."""
    return run_hidden(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
