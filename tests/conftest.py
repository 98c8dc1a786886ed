"""Shared pytest set-up: the test API server's fixtures and a local webhook receiver."""

from collections.abc import Iterator

import pytest

from webhook_receiver import Receiver

pytest_plugins = ["kubeapi.fixtures"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
