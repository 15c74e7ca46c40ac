"""Watch streams: which stored events a watcher sees, and how they are translated for its selectors.

Like the real server, a watch with a selector sees an object that starts matching on MODIFIED as ADDED and
one that stops matching as DELETED.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from .json_values import JsonObject, deep_copy
from .resources import ResourceType
from .selectors import Matcher
from .status import ApiError
from .store import ObjectStore, StoredEvent, TooOldResourceVersion


@dataclass(frozen=True)
class WatchFilter:
    namespace: str | None
    matchers: tuple[Matcher, ...]

    def _matches(self, obj: JsonObject | None) -> bool:
        if obj is None:
            return False
        if self.namespace is not None and obj["metadata"].get("namespace") != self.namespace:
            return False
        return all(matches(obj) for matches in self.matchers)

    def translate(self, event: StoredEvent) -> str | None:
        """The event type this watcher is sent, or None when it is not sent."""
        now = self._matches(event.obj)
        if event.type != "MODIFIED":
            return event.type if now else None
        before = self._matches(event.previous)
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        return "DELETED" if before else None


def watch_events(store: ObjectStore, resource_type: ResourceType, watch_filter: WatchFilter,
                 since: int | None, timeout: float | None, stopping: threading.Event
                 ) -> Iterator[JsonObject]:
    """The watch event bodies ({"type", "object"}) until the timeout, or the server stops."""
    try:
        backlog, subscription = store.subscribe(resource_type, since)
    except TooOldResourceVersion as error:
        gone = ApiError(410, "Expired", str(error)).body()
        yield {"type": "ERROR", "object": gone}
        return
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        pending: list[StoredEvent | None] = list(backlog)
        while not stopping.is_set():
            if not pending:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                try:
                    pending.append(subscription.events.get(timeout=remaining if remaining is not None else 1.0))
                except queue.Empty:
                    continue
            event = pending.pop(0)
            if event is None:
                return
            event_type = watch_filter.translate(event)
            if event_type is not None:
                yield {"type": event_type, "object": deep_copy(event.obj)}
    finally:
        store.unsubscribe(subscription)
