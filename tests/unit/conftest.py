from __future__ import annotations

import pytest

from aftersales.adapters.policy_files import load_policy_book
from aftersales.domain.policy import PolicyBook


@pytest.fixture(scope="session")
def book() -> PolicyBook:
    """The shipped policy documents, as the platform runs them."""
    return load_policy_book()
