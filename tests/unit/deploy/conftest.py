"""Fixtures of the deployment tests."""

from __future__ import annotations

import pytest
from deploy_helpers import EXAMPLES, example_id

from silobridge_cli.deploy.spec import ClusterSpec, load_cluster


@pytest.fixture(params=EXAMPLES, ids=example_id)
def example(request: pytest.FixtureRequest) -> ClusterSpec:
    return load_cluster(request.param)
