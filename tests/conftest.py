"""Shared pytest fixtures.

Real data comes from ``../shared/data`` (or ``$HASHPLUGINS_DATA``); tests
that need it skip with a clear message where it is absent. Archives are
unpacked once into ``$HASHPLUGINS_CACHE`` (default ``<repo>/.cache``).

Device tests: a test that takes the ``device`` fixture runs once on the CPU
and once on CUDA (skipped, with a message, where no GPU is present) and is
marked ``gpu``, so ``pytest -m gpu`` on a GPU machine checks every device
path of the project, and the plain ``pytest`` of CI runs their CPU half.
"""
import os
import os.path as osp

import pytest
import torch

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# Two cores: one intra-op thread keeps tests from oversubscribing the CPU.
torch.set_num_threads(1)
os.environ.setdefault('HASHPLUGINS_CACHE', osp.join(REPO_ROOT, '.cache'))


def _shared_data_root():
    return os.environ.get('HASHPLUGINS_DATA',
                          osp.join(REPO_ROOT, '..', 'shared', 'data'))


@pytest.fixture(scope='session')
def shared_data():
    """Path of the shared real datasets, or skip the test."""
    root = osp.abspath(_shared_data_root())
    if not osp.isdir(root):
        pytest.skip(f'shared data folder {root} is absent; set '
                    'HASHPLUGINS_DATA to a copy of shared/data to run this')
    return root


@pytest.fixture(scope='session')
def cache_dir():
    path = os.environ['HASHPLUGINS_CACHE']
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture(scope='session')
def repo_root():
    return REPO_ROOT


_NO_CUDA = ('no CUDA device here: the cuda half of the device tests runs on '
            'a GPU machine (pytest -m gpu)')


@pytest.fixture(params=[
    'cpu',
    pytest.param('cuda', marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason=_NO_CUDA)),
])
def device(request):
    """A torch device: ``cpu``, then ``cuda`` where present."""
    return torch.device(request.param)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if 'device' in getattr(item, 'fixturenames', ()):
            item.add_marker(pytest.mark.gpu)
