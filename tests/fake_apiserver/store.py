"""The object store: objects by (resource, namespace, name), the global resourceVersion counter, and the
event history and subscribers that watches read from. One re-entrant lock guards all of it."""

from __future__ import annotations

import builtins
import queue
import threading
from collections import deque
from dataclasses import dataclass
from typing import Optional

from .json_values import JsonObject, deep_copy
from .resources import ResourceType

ObjectKey = tuple[str, Optional[str], str]  # (plural, namespace, name)

HISTORY_LIMIT = 2000


@dataclass(frozen=True)
class StoredEvent:
    type: str  # ADDED | MODIFIED | DELETED
    resource: str  # plural
    obj: JsonObject
    previous: JsonObject | None
    resource_version: int


class TooOldResourceVersion(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")


@dataclass
class Subscription:
    resource: str
    events: queue.SimpleQueue[StoredEvent | None]


class ObjectStore:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._objects: dict[ObjectKey, JsonObject] = {}
        self._resource_version = 1
        self._history: deque[StoredEvent] = deque(maxlen=HISTORY_LIMIT)
        self._subscriptions: list[Subscription] = []

    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._resource_version

    def next_resource_version(self) -> str:
        with self.lock:
            self._resource_version += 1
            return str(self._resource_version)

    def get(self, resource_type: ResourceType, namespace: str | None, name: str) -> JsonObject | None:
        """The stored object itself (not a copy): callers hold the lock and copy before changing it."""
        with self.lock:
            return self._objects.get((resource_type.plural, namespace, name))

    def list(self, resource_type: ResourceType, namespace: str | None = None) -> list[JsonObject]:
        """Stored objects in key order (namespace, name); `namespace=None` lists every namespace."""
        with self.lock:
            keys = sorted((key for key in self._objects
                           if key[0] == resource_type.plural and (namespace is None or key[1] == namespace)),
                          key=lambda key: (key[1] or "", key[2]))
            return [self._objects[key] for key in keys]

    def put(self, resource_type: ResourceType, obj: JsonObject) -> None:
        """Store an object whose metadata (including a fresh resourceVersion) is already set."""
        metadata = obj["metadata"]
        key = (resource_type.plural, metadata.get("namespace"), metadata["name"])
        with self.lock:
            previous = self._objects.get(key)
            self._objects[key] = obj
            self._publish(StoredEvent("ADDED" if previous is None else "MODIFIED", resource_type.plural,
                                      obj, previous, int(metadata["resourceVersion"])))

    def remove(self, resource_type: ResourceType, namespace: str | None, name: str) -> JsonObject | None:
        """Remove an object; the returned last state carries the resourceVersion of the deletion."""
        with self.lock:
            previous = self._objects.pop((resource_type.plural, namespace, name), None)
            if previous is None:
                return None
            deleted = deep_copy(previous)
            deleted["metadata"]["resourceVersion"] = self.next_resource_version()
            self._publish(StoredEvent("DELETED", resource_type.plural, deleted, previous,
                                      int(deleted["metadata"]["resourceVersion"])))
            return deleted

    def _publish(self, event: StoredEvent) -> None:
        self._history.append(event)
        for subscription in self._subscriptions:
            if subscription.resource == event.resource:
                subscription.events.put(event)

    def subscribe(self, resource_type: ResourceType, since: int | None
                  ) -> tuple[builtins.list[StoredEvent], Subscription]:
        """Register a watcher. Its backlog is either ADDED events for every current object (`since=None`)
        or the recorded events newer than `since`; later events arrive on the subscription's queue."""
        with self.lock:
            if since is None:
                backlog = [StoredEvent("ADDED", resource_type.plural, obj, None,
                                       int(obj["metadata"]["resourceVersion"]))
                           for obj in self.list(resource_type)]
            else:
                oldest = self._history[0].resource_version if self._history else self._resource_version
                if since < oldest - 1 and len(self._history) == self._history.maxlen:
                    raise TooOldResourceVersion(since, oldest)
                backlog = [event for event in self._history
                           if event.resource == resource_type.plural and event.resource_version > since]
            subscription = Subscription(resource_type.plural, queue.SimpleQueue())
            self._subscriptions.append(subscription)
            return backlog, subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def close_subscriptions(self) -> None:
        """End every watch (server shutdown)."""
        with self.lock:
            for subscription in self._subscriptions:
                subscription.events.put(None)
            self._subscriptions.clear()
