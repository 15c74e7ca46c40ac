"""The command line of `kubectl canary`: every verb's flags (from its module in commands/), kubectl's
connection flags, and their values turned into connection options and app names. `cli` parses with it,
the completer (completer.py) reads it to offer words; neither imports the other.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, cast

from kubectl_canary import __version__
from kubectl_canary.commands import VERB_NAMES, load
from kubectl_canary.errors import UsageError
from kubectl_canary.kube.cluster import DRY_RUN_MODES, ConnectionOptions
from kubectl_canary.model.app_names import AppNames, parse_upstream
from kubectl_canary.model.durations import parse_duration
from kubectl_canary.model.rollout import validate_name

DESCRIPTION = """\
Two-phase canary rollouts on Gloo Edge or the Kubernetes Gateway API: first requests with a header
(stage: canary) reach the new version, then a growing share of all traffic, until it is the only one.
Run 'kubectl canary COMMAND -h' for a command's flags and examples."""


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one `error:` line with exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message}; see '{self.prog} --help'")

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse makes a formatter for every add_argument, and without a width it imports shutil (with
        # bz2 and lzma, ~3 ms of every command's start) to ask for the terminal's.
        make = cast("type[argparse.HelpFormatter]", self.formatter_class)  # ours are all HelpFormatter classes
        return make(prog=self.prog, width=_help_width())


def _help_width() -> int:
    """The help's width as argparse takes it from shutil.get_terminal_size: $COLUMNS, else the terminal's
    (80 without one), less a margin of 2."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return (columns or 80) - 2


def _global_flags(*, kubeconfig_user: bool = True) -> _Parser:
    # SUPPRESS defaults, so a flag given before the verb is not overwritten by the verb's parser.
    flags = _Parser(add_help=False)
    group = flags.add_argument_group("global flags")
    group.add_argument(
        "-n",
        "--namespace",
        default=argparse.SUPPRESS,
        help="namespace (default: the kubeconfig context's namespace, else 'default')",
    )
    group.add_argument(
        "--field-manager",
        default=argparse.SUPPRESS,
        help="field manager name for server-side apply (default kubectl-canary)",
    )
    group.add_argument(
        "--router",
        choices=("gloo", "gateway-api"),
        default=argparse.SUPPRESS,
        help="the gateway whose routes to drive: gloo (Gloo Edge RouteTable) or gateway-api (HTTPRoute); "
        "init defaults to gloo, other commands find the app's routes wherever they are",
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log every request to the API server on stderr (never credentials)",
    )
    names = flags.add_argument_group("an app init did not make (recorded on the RouteTable by the first change)")
    names.add_argument("--route-table", default=argparse.SUPPRESS, metavar="NAME",
                       help="the Gloo RouteTable holding the app's routes (default APP-routes, or the recorded one)")
    names.add_argument("--route-name", action="append", default=argparse.SUPPRESS, metavar="NAME",
                       help="limit the command to this route of the app (repeatable; default: every route to the "
                       "app's upstream, or named APP-primary)")
    names.add_argument("--upstream", default=argparse.SUPPRESS, metavar="NS/NAME",
                       help="the app's Gloo Upstream, e.g. gloo-system/team-a-echo-80 (default: APP)")
    names.add_argument("--route", default=argparse.SUPPRESS, metavar="NAME",
                       help="the Gateway API HTTPRoute holding the app's rules (default APP, or the recorded one)")
    names.add_argument("--deployment", default=argparse.SUPPRESS, metavar="NAME",
                       help="the primary version's Deployment (default APP-VERSION)")
    connection = flags.add_argument_group("connection flags (as kubectl's)")
    connection.add_argument(
        "--kubeconfig",
        default=argparse.SUPPRESS,
        help="path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)",
    )
    connection.add_argument("--context", default=argparse.SUPPRESS, help="kubeconfig context to use")
    connection.add_argument("--cluster", default=argparse.SUPPRESS, help="kubeconfig cluster to use")
    if kubeconfig_user:
        connection.add_argument("--user", default=argparse.SUPPRESS, help="kubeconfig user to use")
    connection.add_argument("-s", "--server", default=argparse.SUPPRESS, help="address of the API server")
    connection.add_argument("--token", default=argparse.SUPPRESS, help="bearer token for the API server")
    connection.add_argument(
        "--certificate-authority", default=argparse.SUPPRESS, metavar="FILE", help="CA certificate file to trust"
    )
    connection.add_argument(
        "--client-certificate", default=argparse.SUPPRESS, metavar="FILE", help="client certificate file for TLS"
    )
    connection.add_argument("--client-key", default=argparse.SUPPRESS, metavar="FILE", help="client key file for TLS")
    connection.add_argument(
        "--tls-server-name",
        default=argparse.SUPPRESS,
        metavar="NAME",
        help="server name for SNI and certificate verification (default: the server's host)",
    )
    connection.add_argument(
        "--insecure-skip-tls-verify",
        action="store_true",
        default=argparse.SUPPRESS,
        help="do not verify the API server's certificate (insecure)",
    )
    connection.add_argument(
        "--as", dest="as_user", default=argparse.SUPPRESS, metavar="USER", help="impersonate this user"
    )
    connection.add_argument(
        "--as-group",
        dest="as_groups",
        action="append",
        default=argparse.SUPPRESS,
        metavar="GROUP",
        help="impersonate this group (repeatable)",
    )
    connection.add_argument("--as-uid", default=argparse.SUPPRESS, metavar="UID", help="impersonate this UID")
    connection.add_argument(
        "--request-timeout",
        type=_request_timeout,
        default=argparse.SUPPRESS,
        metavar="DURATION",
        help="give up on a request to the API server after this long (default 30s, 0: never)",
    )
    return flags


def connection_options(values: dict[str, Any], default_timeout: float = 30.0) -> ConnectionOptions:
    """kubectl's connection flags from parsed arguments (absent ones: not given)."""
    if values.get("insecure_skip_tls_verify") and values.get("certificate_authority"):
        raise UsageError("--insecure-skip-tls-verify and --certificate-authority contradict each other; give one")
    if (values.get("as_groups") or values.get("as_uid")) and not values.get("as_user"):
        raise UsageError("--as-group and --as-uid need --as (the user to impersonate)")
    return ConnectionOptions(
        kubeconfig=values.get("kubeconfig") or None,
        context=values.get("context") or None,
        cluster=values.get("cluster") or None,
        user=values.get("user") or None,
        server=values.get("server") or None,
        token=values.get("token") or None,
        certificate_authority=values.get("certificate_authority") or None,
        client_certificate=values.get("client_certificate") or None,
        client_key=values.get("client_key") or None,
        tls_server_name=values.get("tls_server_name") or None,
        insecure_skip_tls_verify=bool(values.get("insecure_skip_tls_verify")),
        as_user=values.get("as_user") or None,
        as_groups=tuple(values.get("as_groups") or ()),
        as_uid=values.get("as_uid") or None,
        request_timeout=values.get("request_timeout", default_timeout),
    )


def app_names(values: dict[str, Any]) -> AppNames:
    """--route-table, --route-name, --upstream, --deployment as given (absent: derive or read the record)."""
    for flag in ("route_table", "route", "deployment"):  # route names are free text in Gloo
        if flag in values:
            validate_name(values[flag], f"--{flag.replace('_', '-')}")
    upstream = parse_upstream(values["upstream"]) if values.get("upstream") else None
    route_names = tuple(dict.fromkeys(values.get("route_name") or ()))  # --route-name, given 0..n times
    return AppNames(values.get("route_table"), route_names[0] if len(route_names) == 1 else None, upstream,
                    deployment=values.get("deployment"), route=values.get("route"),
                    route_names=route_names if len(route_names) > 1 else ())


def _gloo_timeout(text: str) -> float:
    return parse_duration(text, "--gloo-timeout", allow_zero=True)


def _request_timeout(text: str) -> float:
    return parse_duration(text, "--request-timeout", allow_zero=True)


def _mutating_flags() -> _Parser:
    flags = _Parser(add_help=False)
    group = flags.add_argument_group("write flags")
    group.add_argument(
        "--dry-run",
        choices=DRY_RUN_MODES,
        nargs="?",
        const="client",
        default="none",
        help="client: compute and print, write nothing; server: let the server check the "
        "writes without persisting them",
    )
    group.add_argument(
        "-o", "--output", choices=("yaml", "json"), help="print the objects that were (or would be) written"
    )
    group.add_argument(
        "--gloo-timeout",
        type=_gloo_timeout,
        default=0.0,
        metavar="DURATION",
        help="after changing routes, wait up to this long for the gateway's verdict (default 0: no wait; "
        "Gloo writes a status only when its verdict changes, the Gateway API says which generation it judged)",
    )
    group.add_argument(
        "--force-conflicts",
        action="store_true",
        help="take over fields another field manager (Helm, Argo CD, Flux, kubectl) owns",
    )
    return flags


def _local_flags() -> _Parser:
    flags = _Parser(add_help=False)
    group = flags.add_argument_group("offline flags (GitOps: change the manifests, not the cluster)")
    group.add_argument("--local", action="store_true",
                       help="read and change the manifests -f names instead of the cluster")
    group.add_argument("-f", "--filename", metavar="PATH",
                       help="with --local: a manifest file, a directory of them, or a kustomization directory")
    group.add_argument("--diff", action="store_true", help="with --local: print the diff, write nothing")
    group.add_argument("--check-live", action="store_true",
                       help="with --local or --helm-values: check readiness against the cluster (kubeconfig as usual)")
    group.add_argument("--helm-values", metavar="FILE",
                       help="read and change the values file of the seed's Helm chart instead of the cluster")
    return flags


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with `only`, the verb on the command line, that verb alone (the others' modules are
    not imported, nor are their parsers made)."""
    if only not in VERB_NAMES:
        only = None  # not a verb: the full parser, whose error names every verb
    global_flags = _global_flags()
    # `rbac --user` names the RoleBinding's subject; rbac sends only API discovery, as the kubeconfig's user.
    without_user = _global_flags(kubeconfig_user=False) if only in (None, "rbac") else global_flags
    parser = _Parser(
        prog="kubectl canary",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[global_flags],
    )
    parser.add_argument("--version", action="version", version=f"kubectl-canary v{__version__}")
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    mutating = _mutating_flags()
    local = _local_flags()
    for name in VERB_NAMES:
        if only is not None and name != only:
            continue
        command = load(name)
        own = without_user if command.name == "rbac" else global_flags
        parents = [own, mutating, local] if command.mutating else [own, local] if name == "status" else [own]
        sub = verbs.add_parser(
            command.name,
            help=command.short,
            description=f"{command.short}\n\n{command.long}",
            epilog=f"Examples:\n{command.examples}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=parents,
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


_VALUE_FLAGS = (
    "-n", "--namespace", "--kubeconfig", "--context", "--cluster", "--user", "-s", "--server", "--token",
    "--certificate-authority", "--client-certificate", "--client-key", "--tls-server-name", "--as", "--as-group",
    "--as-uid", "--request-timeout", "--field-manager", "--route-table", "--route-name", "--upstream", "--deployment",
    "--route",
)  # fmt: skip


def chosen_verb(argv: Sequence[str]) -> str | None:
    """The verb on the command line, found without parsing (global flags may come first)."""
    expect_value = False
    for token in argv:
        if expect_value:
            expect_value = False
        elif token == "--":
            return None
        elif token.startswith("-"):
            expect_value = token in _VALUE_FLAGS
        else:
            return token if token in VERB_NAMES else None
    return None
