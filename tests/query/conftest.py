"""A collection where videos share places (testkit.places): anchors with disjoint places that
cover every photograph, reshoots of them in another order, and mixes that overlap them."""
from __future__ import annotations

import pytest

from indexer import index, read_bundle
from query.search import Searcher
from testkit import places
from tests.conftest import FAST


@pytest.fixture(scope="session")
def shared_places():
    return places.plan(seed=3, mixes=8)


@pytest.fixture(scope="session")
def places_searcher(tmp_path_factory, shared_places) -> Searcher:
    root = places.write(tmp_path_factory.mktemp("places"), shared_places)
    out = tmp_path_factory.mktemp("places-atlas")
    report = index(root, out, FAST)
    assert report.exit_status == 0, report.summary()
    return Searcher(read_bundle(out))
