"""Bad input the older tests did not cover: each case asserts an error
that names the culprit (file, key or value) and, where it applies, what
would be right. The full list, with the older tests, is the matrix in
tests/reliability/matrix.py (README.md there is generated from it)."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS
from PIL import Image

from hashplugins.datasets.utils import SampleLoadError
from hashplugins.engine.hooks.checkpoint_fit_hook import checkpoint_mismatch
from hashplugins.engine.runner import (DIST_TIMEOUT_ENV, add_reliability_hooks,
                                       dist_timeout, load_checkpoint_file)
from hashplugins.evaluation.metrics import HammingRetrievalMetric
from hashplugins.evaluation.functional import load_codes, save_codes

from harness import REPO_ROOT

# ---------------------------------------------------------------- config


def test_unknown_type_names_the_type_and_registry():
    with pytest.raises(KeyError, match='NoSuchHasher is not in the '
                       'mmpretrain::model registry'):
        MODELS.build(dict(type='NoSuchHasher'))


def test_unknown_key_names_the_class_and_key():
    with pytest.raises(TypeError, match="HashHead.*unexpected keyword "
                       "argument 'num_bit'"):
        MODELS.build(dict(type='HashHead', in_channels=4, num_bit=8))


def _metric_run(metric, num_query=3, num_db=5):
    samples = []
    for i in range(num_query + num_db):
        samples.append(dict(
            sample_idx=i, split='query' if i < num_query else 'database',
            hash_code=torch.tensor([1., -1., 1., 1.]),
            gt_label=torch.tensor([i % 2])))
    metric.process(None, samples)
    return metric.evaluate(len(samples))


def test_topk_larger_than_database_is_refused():
    with pytest.raises(ValueError, match=r'topk=6 is larger than the '
                       r'database \(5 items\).*at most 5'):
        _metric_run(HammingRetrievalMetric(topk=(None, 6)))
    assert _metric_run(HammingRetrievalMetric(topk=(5, )))['hashing/mAP@5']


def test_bad_distributed_timeout(monkeypatch):
    monkeypatch.setenv(DIST_TIMEOUT_ENV, 'soon')
    with pytest.raises(ValueError, match=f"{DIST_TIMEOUT_ENV}='soon'"):
        dist_timeout()
    monkeypatch.setenv(DIST_TIMEOUT_ENV, '90')
    assert dist_timeout().total_seconds() == 90

# ---------------------------------------------------------------- images


def _list_dataset(tmp_path, corrupt):
    root = tmp_path / 'imgs'
    root.mkdir()
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(
        root / 'good.jpg', quality=90)
    data = (root / 'good.jpg').read_bytes()
    bad = dict(truncated=data[:len(data) // 2], not_an_image=b'hello' * 20,
               empty=b'')[corrupt]
    (root / 'bad.jpg').write_bytes(bad)
    (tmp_path / 'list.txt').write_text('good.jpg 1 0\nbad.jpg 0 1\n')
    return root


@pytest.mark.parametrize('backend', ['cv2', 'pillow'])
@pytest.mark.parametrize('corrupt', ['truncated', 'not_an_image', 'empty'])
def test_unreadable_image_names_file_and_list_line(tmp_path, corrupt,
                                                   backend):
    root = _list_dataset(tmp_path, corrupt)
    ds = DATASETS.build(dict(
        type='HashingListDataset', ann_file=str(tmp_path / 'list.txt'),
        num_classes=2, data_root=str(root),
        pipeline=[dict(type='LoadImageFromFile', imdecode_backend=backend),
                  dict(type='PackHashInputs', num_classes=2)]))
    assert ds[0]['inputs'].shape == (3, 16, 16)
    with pytest.raises(SampleLoadError) as err:
        ds[1]
    message = str(err.value)
    assert 'HashingListDataset: could not load sample 1' in message
    assert f"img_path='{root}/bad.jpg'" in message
    assert 'list_line=2' in message

# ---------------------------------------------------------------- checkpoints


def _hasher(bits):
    return dict(type='DeepHasher', backbone=dict(type='LeNet5'),
                data_preprocessor=dict(mean=[33.3], std=[78.6]),
                head=dict(type='HashHead', in_channels=120, num_bits=bits))


def _runner_loading(tmp_path, checkpoint, model):
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_',
                                   'default_runtime.py'))
    cfg.merge_from_dict(dict(work_dir=str(tmp_path / 'work'),
                             experiment_name=tmp_path.name,
                             log_level='WARNING', model=model,
                             load_from=str(checkpoint)))
    add_reliability_hooks(cfg, train=False)  # as tools/test.py does
    return Runner.from_cfg(cfg)


def test_checkpoint_of_other_code_length_is_refused(tmp_path):
    path = tmp_path / 'dpsh16.pth'
    torch.save({'state_dict': MODELS.build(_hasher(16)).state_dict(),
                'meta': {}}, path)
    runner = _runner_loading(tmp_path, path, _hasher(8))
    with pytest.raises(ValueError) as err:
        runner.load_or_resume()
    message = str(err.value)
    assert 'dpsh16.pth does not fit the model DeepHasher' in message
    assert 'head.fc_hash.weight: checkpoint (16, 120) vs model (8, 120)' \
        in message
    assert 'checkpoint_fit_check = False' in message


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = tmp_path / 'gan.pth'
    torch.save({'state_dict': {'generator.fc.weight': torch.zeros(2, 2)},
                'meta': {}}, path)
    runner = _runner_loading(tmp_path, path, _hasher(8))
    with pytest.raises(ValueError, match=r"gan.pth does not fit.*none of "
                       r"its 1 tensors \(e.g. \['generator.fc.weight'\]\)"):
        runner.load_or_resume()


def test_fit_check_lets_resizing_buffers_through():
    # DADH's code bank is (0, k) before a training set is attached
    assert checkpoint_mismatch({'codes': torch.zeros(50, 8)},
                               {'codes': torch.zeros(0, 8)}) is None
    assert 'codes: checkpoint (50, 16) vs model (0, 8)' in \
        checkpoint_mismatch({'codes': torch.zeros(50, 16)},
                            {'codes': torch.zeros(0, 8)})


def test_not_a_checkpoint_names_the_file(tmp_path):
    path = tmp_path / 'notes.pth'
    path.write_text('these are my notes, not a checkpoint')
    with pytest.raises(Exception, match='notes.pth') as err:
        load_checkpoint_file(str(path))
    assert not isinstance(err.value, AssertionError)

# ---------------------------------------------------------------- code files


def _codes_file(tmp_path):
    path = str(tmp_path / 'codes.npz')
    packed = np.zeros((2, 1), np.uint8)
    labels = np.eye(2, dtype=np.uint8)
    save_codes(path, packed, packed, labels, labels, 8)
    return path


def test_truncated_codes_file_names_the_file(tmp_path):
    path = _codes_file(tmp_path)
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    with pytest.raises(ValueError, match='codes.npz is not a codes file'):
        load_codes(path)


def test_object_array_codes_file_is_refused(tmp_path):
    """An .npz whose array is a pickled object (which could run code when
    loaded with allow_pickle=True) is refused, naming the file."""
    path = _codes_file(tmp_path)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays['meta'] = np.array([{'evil': os.system}], dtype=object)
    bad = str(tmp_path / 'evil.npz')
    np.savez(bad, **arrays)
    with pytest.raises(ValueError, match='evil.npz.*allow_pickle=False'):
        load_codes(bad)
