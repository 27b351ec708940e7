import os

import pytest
import torch
from mmengine.runner.checkpoint import CheckpointLoader

import hashplugins  # noqa: F401
from hashplugins.engine.runner import (UntrustedCheckpointError,
                                       load_checkpoint_file, trust_checkpoints)
from hashplugins.engine.runner.checkpoint import TRUST_ENV


class _Payload:
    """Unpickling this runs code: a crafted, malicious checkpoint."""

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


@pytest.fixture(autouse=True)
def _no_trust(monkeypatch):
    monkeypatch.delenv(TRUST_ENV, raising=False)


def test_plain_checkpoint_loads_through_mmengine(tmp_path):
    path = tmp_path / 'plain.pth'
    torch.save({'state_dict': {'w': torch.ones(2)}, 'meta': {'epoch': 3}},
               path)
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert ckpt['meta']['epoch'] == 3
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2))


def test_malicious_pickle_is_refused_by_default(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _Payload()}, path)
    with pytest.raises(UntrustedCheckpointError) as err:
        CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    assert str(path) in str(err.value)
    assert '--trust-checkpoint' in str(err.value)


class _Box:
    """A harmless object that weights_only loading still refuses."""

    def __init__(self, value):
        self.value = value


def test_explicit_trust_allows_full_load(tmp_path):
    path = tmp_path / 'full.pth'
    torch.save({'obj': _Box(7)}, path)
    with pytest.raises(UntrustedCheckpointError):
        load_checkpoint_file(str(path))
    trust_checkpoints(True)
    try:
        assert load_checkpoint_file(str(path))['obj'].value == 7
    finally:
        trust_checkpoints(False)


def test_missing_and_truncated_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(str(tmp_path / 'nope.pth'))
    path = tmp_path / 'cut.pth'
    torch.save({'state_dict': {'w': torch.zeros(1000)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(RuntimeError, match='cut.pth'):
        load_checkpoint_file(str(path))
