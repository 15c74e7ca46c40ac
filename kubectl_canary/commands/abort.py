"""`kubectl canary abort APP`: all traffic back to the primary; the canary is removed."""

from __future__ import annotations

from kubectl_canary.commands import ending_command
from kubectl_canary.model.verb_plans import abort
from kubectl_canary.workflow.ending import Ending

# The plan (verb_plans.abort): all traffic back to the primary; the canary goes, unless --keep-canary.
ABORT = Ending(verb="abort", done="aborted", plan=abort)
SHORT = "Send all traffic back to the primary and delete the canary"
KEEP = ("--keep-canary", "keep the canary's Deployment")  # the flag that keeps its Deployment, and its help
FORCE = "send the traffic back even if the primary is not ready (never if missing)"

LONG = """\
Returns the app to its stable routes: everything to the primary on each route, no header routes.
Then deletes the canary's Deployment (kept with --keep-canary, for inspection). The route
changes before anything is deleted; running abort again completes the deletion.
Moving traffic back needs no --force while the primary has an available pod (below its
minimum availability it warns); with none it needs --force, and toward a missing primary it is refused
(recreate the primary, or make the canary the only version with `kubectl canary finish`)."""

EXAMPLES = """\
  # Send all of echo's traffic back to the primary and delete the canary
  kubectl canary abort echo -n echo

  # Keep echo-v2's pods to look at their logs
  kubectl canary abort echo --keep-canary"""


COMMAND = ending_command(ABORT, short=SHORT, long=LONG, examples=EXAMPLES, keep=KEEP, force=FORCE)
