"""Settings every test shares: no test reads or writes the real per-user data directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _scratch_user_data_home() -> Iterator[None]:
    """Point XDG_DATA_HOME (platformdirs' per-user data root) at a scratch directory.

    The embedded default keeps its database in the per-user data directory; a test (or a
    subprocess it starts, which inherits the environment) that does not name a data directory
    must not touch the one of the person running the tests.
    """
    previous = os.environ.get("XDG_DATA_HOME")
    with tempfile.TemporaryDirectory(prefix="trading-tests-xdg-") as scratch:
        os.environ["XDG_DATA_HOME"] = scratch
        try:
            yield
        finally:
            if previous is None:
                os.environ.pop("XDG_DATA_HOME", None)
            else:
                os.environ["XDG_DATA_HOME"] = previous
