"""`kubectl canary finish APP`: the canary becomes the only version; the old one is removed."""

from __future__ import annotations

from kubectl_canary.commands import ending_command
from kubectl_canary.model.verb_plans import finish
from kubectl_canary.workflow.ending import Ending

# The plan (verb_plans.finish): all traffic to the canary; the old primary goes, unless --keep-old.
FINISH = Ending(verb="finish", done="finished", plan=finish)
SHORT = "Make the canary the only version and delete the old one"
KEEP = ("--keep-old", "keep the old primary's Deployment")  # the flag that keeps its Deployment, and its help
FORCE = "finish even if the canary is not ready"

LONG = """\
Routes all traffic to the canary (each of the app's routes, subset kept for the next rollout),
removes the header routes, then deletes the old primary's Deployment (kept with --keep-old). The route
changes before anything is deleted, so a failure half-way never routes to a missing
Deployment; running finish again completes the deletion. Refused while the canary is not
ready, unless --force."""

EXAMPLES = """\
  # Make v2 (the canary) the only version of echo and delete echo-v1
  kubectl canary finish echo -n echo

  # Keep echo-v1 around for a quick manual rollback
  kubectl canary finish echo --keep-old"""


COMMAND = ending_command(FINISH, short=SHORT, long=LONG, examples=EXAMPLES, keep=KEEP, force=FORCE)
