"""`kubectl canary`: parse the arguments (arguments.py), run one verb, turn failures into one `error:` line."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from kubectl_canary.arguments import app_names, build_parser, chosen_verb, connection_options
from kubectl_canary.commands import load
from kubectl_canary.errors import CanaryError, ForbiddenError, UsageError
from kubectl_canary.kube.permissions import describe
from kubectl_canary.workflow.invocation import Invocation


def run(argv: Sequence[str]) -> int:
    parser = build_parser(only=chosen_verb(argv))
    args = parser.parse_args(list(argv))
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    invocation = Invocation(
        connection=connection_options(vars(args) if args.command != "rbac" else {**vars(args), "user": None}),
        verbose=getattr(args, "verbose", False),
        force_conflicts=getattr(args, "force_conflicts", False),
        gloo_timeout=getattr(args, "gloo_timeout", 0.0),
        router=getattr(args, "router", None),
        names=app_names(vars(args)),
        namespace_flag=getattr(args, "namespace", None),
        field_manager=getattr(args, "field_manager", "kubectl-canary"),
        dry_run=getattr(args, "dry_run", "none"),
        output=getattr(args, "output", None),
        parse_verb=lambda words: build_parser(only=words[0]).parse_args(words),
    )
    local = getattr(args, "local", False)
    helm_values = getattr(args, "helm_values", None)
    if helm_values and (local or args.filename):
        raise UsageError("--helm-values and --local -f are two offline modes: give one")
    if not local and not helm_values and any(getattr(args, f, None) for f in ("filename", "diff", "check_live")):
        raise UsageError("-f, --diff and --check-live work with --local (change manifest files, not the cluster)")
    if local or helm_values:
        # Nothing runs offline: no pods to wait for, no traffic for gates between steps to judge.
        if getattr(args, "wait", False):
            raise UsageError("offline (--local) nothing runs, so there is nothing to wait for; drop --wait")
        if getattr(args, "step", None) is not None or getattr(args, "steps", None) is not None:
            raise UsageError("offline (--local) each weight is one change to commit: give it without --step/--steps")
    if helm_values:
        from pathlib import Path

        from kubectl_canary.gitops import helm_values_file

        return helm_values_file.run(args, invocation, Path(helm_values), diff_only=args.diff,
                                    check_live=args.check_live)
    if local:
        if not args.filename:
            raise UsageError("--local needs -f PATH: the manifests to read and change")
        invocation.use_manifests(args.filename, check_live=args.check_live, missing_ok=args.command == "init")
    try:
        code: int = args.run(args, invocation)
        if local:
            writes = args.command != "status" and code == 0 and getattr(args, "dry_run", "none") == "none"
            invocation.end_offline(write_files=writes, diff_only=args.diff)
    except ForbiddenError as error:
        command = load(args.command)
        raise CanaryError(
            f"{error}; {command.name} needs: {describe(command.permissions)} "
            f"(kubectl canary rbac prints a Role that grants them)"
        ) from None
    return code


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments[:1] == ["__complete"]:  # hidden: shell completion (kubectl_canary/completer.py)
        from kubectl_canary.completer import run_hidden

        return run_hidden(arguments[1:])
    try:
        return run(arguments)
    except CanaryError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as error:  # a bug: still one line, never a traceback (KUBECTL_CANARY_DEBUG=1 shows it)
        if os.environ.get("KUBECTL_CANARY_DEBUG"):
            raise
        print(f"error: internal error ({type(error).__name__}: {error}); please report it", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
