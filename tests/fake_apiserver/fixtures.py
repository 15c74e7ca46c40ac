"""The pytest fixture: `from tests.fake_apiserver import fake_api` in a conftest makes it available."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeApiServer


@pytest.fixture
def fake_api() -> Iterator[FakeApiServer]:
    """A started fake API server, stopped after the test."""
    with FakeApiServer() as api:
        yield api
