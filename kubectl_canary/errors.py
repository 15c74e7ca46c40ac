"""The errors a command can end with. Each carries the exit code the user sees."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class CanaryError(Exception):
    """A failure to report as one `error:` line; exit code 1 unless said otherwise."""

    exit_code = 1


class UsageError(CanaryError):
    """Invalid arguments: exit code 2, and nothing was sent to the cluster."""

    exit_code = 2


class NotServedError(CanaryError):
    """The API server does not serve a resource at all (its CRD is not installed): 404 naming no object."""


@dataclass
class ApiError(CanaryError):
    """A Kubernetes API `Status` failure, typed so callers branch on `reason`, not on text."""

    code: int
    reason: str
    message: str
    causes: list[dict[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message or f"{self.reason} ({self.code})"

    @property
    def is_stale_write(self) -> bool:
        """409 because the object changed since it was read (optimistic concurrency)."""
        return self.code == 409 and not self.conflicting_managers

    @property
    def conflicting_managers(self) -> list[str]:
        """Field managers named by a server-side apply conflict."""
        names = []
        for cause in self.causes:
            if cause.get("reason") == "FieldManagerConflict":
                text = cause.get("message", "")
                name = text.split('"')[1] if text.count('"') >= 2 else text
                if name not in names:
                    names.append(name)
        return names


class ForbiddenError(ApiError):
    """403: names the verb and resource that were refused; the CLI adds what the command needs."""

    def __init__(self, verb: str, resource: Any, namespace: str | None, status: dict[str, Any]) -> None:
        super().__init__(403, "Forbidden", str(status.get("message") or "forbidden"))
        self.verb = verb
        self.resource = resource
        self.namespace = namespace

    def __str__(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else " at cluster scope"
        return f"forbidden: cannot {self.verb} {self.resource.qualified}{where}"
