"""`kubectl canary completion bash|zsh|fish`: a completion script for `kubectl-canary` called directly.

`kubectl canary <TAB>` needs no script of ours: kubectl >= 1.26 runs the executable
`kubectl_complete-canary` it finds on PATH. Both ways end in `kubectl-canary __complete`
(kubectl_canary/completer.py), which prints Cobra's completion format.
"""

from __future__ import annotations

import argparse

from kubectl_canary.commands import Command
from kubectl_canary.workflow.invocation import Invocation

LONG = """\
Prints a script that makes the shell complete `kubectl-canary` called directly: subcommands,
flags, app names (from the RouteTables and HTTPRoutes of the namespace), weights and versions, and the
routing verbs `route --after` takes.

`kubectl canary <TAB>` is completed by kubectl itself (1.26 or newer, with kubectl's own
completion loaded) through the executable kubectl_complete-canary on PATH, which the release
archive and `pip install` both provide. krew does not put it on PATH; copy it next to krew's
kubectl-canary once (it finds the current version there, so upgrades keep it working):
  cp ~/.krew/store/canary/*/kubectl_complete-canary ~/.krew/bin/"""

EXAMPLES = """\
  # bash: load in the current shell, and in every new one
  source <(kubectl canary completion bash)
  kubectl canary completion bash >> ~/.bashrc

  # zsh (after compinit)
  source <(kubectl canary completion zsh)

  # fish
  kubectl canary completion fish > ~/.config/fish/completions/kubectl-canary.fish"""

BASH = r"""# bash completion for kubectl-canary (kubectl canary completion bash)
_kubectl_canary() {
    local line=${COMP_LINE:0:COMP_POINT} out directive cur value
    local -a words
    read -r -a words <<<"$line"
    [[ $line =~ [[:space:]]$ ]] && words+=("")
    cur=${words[${#words[@]}-1]}
    out=$(kubectl-canary __complete "${words[@]:1}" 2>/dev/null) || return
    directive=${out##*:}
    COMPREPLY=()
    (( directive & 1 )) && return
    while IFS= read -r value; do
        [[ -n $value ]] || continue
        value=${value%%$'\t'*}
        # bash splits `--flag=value` at '=' (COMP_WORDBREAKS): reply with what follows it
        [[ $cur == *=* && $COMP_WORDBREAKS == *=* ]] && value=${value#*=}
        COMPREPLY+=("$value")
    done <<<"${out%:*}"
    (( directive & 2 )) && compopt -o nospace 2>/dev/null
    (( directive & 32 )) && compopt -o nosort 2>/dev/null
    if (( ${#COMPREPLY[@]} == 0 && (directive & 4) == 0 )); then
        COMPREPLY=($(compgen -f -- "${cur#*=}"))
    fi
    return 0
}
complete -F _kubectl_canary kubectl-canary
"""

ZSH = r"""#compdef kubectl-canary
# zsh completion for kubectl-canary (kubectl canary completion zsh)
_kubectl_canary() {
    local out directive line
    local -a candidates options
    out=$(kubectl-canary __complete "${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
    directive=${out##*:}
    (( directive & 1 )) && return 1
    for line in "${(@f)${out%:*}}"; do
        [[ -n $line ]] || continue
        if [[ $line == *$'\t'* ]]; then
            candidates+=("${${line%%$'\t'*}//:/\\:}:${line#*$'\t'}")
        else
            candidates+=("${line//:/\\:}")
        fi
    done
    (( directive & 2 )) && options+=(-S '')
    (( directive & 32 )) && options+=(-V)
    if (( ${#candidates} )); then
        _describe "${options[@]}" 'kubectl-canary' candidates
    elif (( (directive & 4) == 0 )); then
        _files
    fi
}
if [[ $funcstack[1] == _kubectl_canary ]]; then
    _kubectl_canary "$@"
else
    compdef _kubectl_canary kubectl-canary
fi
"""

FISH = r"""# fish completion for kubectl-canary (kubectl canary completion fish)
function __kubectl_canary_complete
    set -l args (commandline -opc)
    set -e args[1]
    set -l cur (commandline -ct)
    set -l out (kubectl-canary __complete $args "$cur" 2>/dev/null)
    or return
    set -l directive (string replace ':' '' -- $out[-1])
    set -e out[-1]
    test (math "bitand($directive, 1)") -eq 0
    or return
    if test (count $out) -eq 0; and test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path "$cur"
        return
    end
    printf '%s\n' $out
end
complete -c kubectl-canary -f -a '(__kubectl_canary_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", metavar="SHELL", choices=tuple(SCRIPTS), help="bash, zsh or fish")


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    invocation.out.write(SCRIPTS[args.shell])
    return 0


COMMAND = Command(
    name="completion",
    short="Print a shell completion script for kubectl-canary (bash, zsh, fish)",
    long=LONG,
    examples=EXAMPLES,
    mutating=False,
    add_arguments=add_arguments,
    run=run,
)
