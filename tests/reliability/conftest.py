import pytest

from harness import warm_up


@pytest.fixture(scope='session')
def warm_runner(tmp_path_factory):
    """Import everything a first training run imports, once (see
    :func:`harness.warm_up`); forked runs then start in ~0.5 s."""
    warm_up(tmp_path_factory.mktemp('warm_up'))
