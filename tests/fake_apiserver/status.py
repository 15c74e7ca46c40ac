"""Kubernetes `Status` bodies: the errors the fake answers with, shaped like the real server's."""

from __future__ import annotations

from typing import Any

from .resources import ResourceType


class ApiError(Exception):
    """A request that fails with a Kubernetes Status. Also raised by the direct (test-side) methods."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            status["details"] = self.details
        status["code"] = self.code
        return status


def _details(resource_type: ResourceType, name: str, kind: str | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if resource_type.group:
        details["group"] = resource_type.group
    details["kind"] = kind or resource_type.plural
    return details


def success_status(resource_type: ResourceType, name: str, uid: str) -> dict[str, Any]:
    details = _details(resource_type, name)
    details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def not_found(resource_type: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource_type.qualified} "{name}" not found', _details(resource_type, name))


def path_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def already_exists(resource_type: ResourceType, name: str) -> ApiError:
    return ApiError(
        409, "AlreadyExists", f'{resource_type.qualified} "{name}" already exists', _details(resource_type, name)
    )


def conflict(resource_type: ResourceType, name: str, reason_text: str) -> ApiError:
    message = f'Operation cannot be fulfilled on {resource_type.qualified} "{name}": {reason_text}'
    return ApiError(409, "Conflict", message, _details(resource_type, name))


OBJECT_MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def stale_resource_version(resource_type: ResourceType, name: str) -> ApiError:
    return conflict(resource_type, name, OBJECT_MODIFIED)


def invalid(resource_type: ResourceType, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid; `causes` are (field path, text after the path) pairs, as field.ErrorList prints them."""
    texts = [f"{field}: {text}" if field else text for field, text in causes]
    joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    details = _details(resource_type, name, kind=resource_type.kind)
    details["causes"] = [{"reason": "FieldValueInvalid", "message": text, "field": field} for field, text in causes]
    return ApiError(422, "Invalid", f'{resource_type.qualified_kind} "{name}" is invalid: {joined}', details)


def resource_version_required(resource_type: ResourceType, name: str) -> ApiError:
    """A PUT without metadata.resourceVersion on a custom resource (they do not allow unconditional updates).
    The real server names the resource, not the kind, in this one."""
    text = "Invalid value: 0x0: must be specified for an update"
    details = _details(resource_type, name)
    details["causes"] = [{"reason": "FieldValueInvalid", "message": text, "field": "metadata.resourceVersion"}]
    return ApiError(422, "Invalid", f'{resource_type.qualified} "{name}" is invalid: metadata.resourceVersion: {text}',
                    details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unsupported_media_type(accepted: list[str]) -> ApiError:
    message = "the body of the request was in an unknown format - accepted media types include: " + ", ".join(accepted)
    return ApiError(415, "UnsupportedMediaType", message, {})


def forbidden(resource_type: ResourceType, name: str, user: str, verb: str, namespace: str | None) -> ApiError:
    subject = f'{resource_type.qualified} "{name}"' if name else resource_type.qualified
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{resource_type.plural}" '
        f'in API group "{resource_type.group}" {scope}'
    )
    return ApiError(403, "Forbidden", message, _details(resource_type, name))


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def method_not_allowed(method: str) -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({method})", {}
    )


def internal_error(message: str) -> ApiError:
    return ApiError(500, "InternalError", message, {"causes": [{"message": message}]})
