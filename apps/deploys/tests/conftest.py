from __future__ import annotations

import pytest

from apps.streams.tests.conftest import make_token


@pytest.fixture
def alpha_token(db):
    return make_token("alpha", "alpha-marker", "deploys")


@pytest.fixture
def beta_token(db):
    return make_token("beta", "beta-marker", "deploys")
