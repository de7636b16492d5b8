"""Fixtures the service tests share: a grower with a plot, and a dealer to hand goods over to."""
from __future__ import annotations

import pytest

from tests.factories_tracing import Grower, dealer_with_account


@pytest.fixture
def grower(session):
    """An authorised 中宁枸杞 grower with an account, a trademark and a plot (see `Grower`)."""
    return Grower.make(session)


@pytest.fixture
def dealer(session):
    """(party, user): an authorised trader and its account."""
    return dealer_with_account()
