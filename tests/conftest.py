"""Shared test set-up."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_code_cache(tmp_path_factory):
    """xlate runs started by the tests keep their compiled code in a directory of the session's,
    never in the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XLATE_CACHE_DIR", str(tmp_path_factory.mktemp("xlate-cache")))
        yield
