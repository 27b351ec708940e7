"""One checkpoint-fit policy for every tool (issue #18, item 3).

tools/test.py, ``load_from``, tools/encode.py and tools/retrieve.py all
refuse a checkpoint that does not fit the model (other shapes, missing or
unexpected keys), naming the file, the keys and the likely cause; and
tools/retrieve.py refuses a checkpoint other than the one its index was
encoded with. Real Runner, real tools, the LeNet-5 DPSH quickstart config
on a few of its MNIST digits."""
import importlib.util
import json
import os.path as osp
import runpy
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from hashplugins.engine.runner import add_reliability_hooks
from hashplugins.engine.hooks.checkpoint_fit_hook import checkpoint_mismatch

from harness import REPO_ROOT

CONFIG = osp.join(REPO_ROOT, 'configs', 'dpsh', 'dpsh_lenet5_mnist5k_16bit.py')
# A few digits of each split: the refusals come before any evaluation.
TINY_TEST = ['test_dataloader.dataset.query.indices=10',
             'test_dataloader.dataset.database.indices=30']


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _save(path, state):
    torch.save(dict(state_dict=state, meta={}), str(path))
    return str(path)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Checkpoints of the config's model (16 bits, seed 0), of the same
    model with other weights (seed 1), of an 8-bit model, and the 16-bit
    one with its hash layer renamed (as an older version named it)."""
    from hashplugins.apis import HashEncoder
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp('ckpts')
    torch.manual_seed(0)
    state = HashEncoder(CONFIG, device='cpu').model.state_dict()
    torch.manual_seed(1)
    other = HashEncoder(CONFIG, device='cpu').model.state_dict()
    state8 = HashEncoder(CONFIG, device='cpu', cfg_options={
        'model.head.num_bits': 8}).model.state_dict()
    renamed = {k.replace('head.fc_hash.', 'head.hash_fc.'): v
               for k, v in state.items()}
    assert renamed.keys() != state.keys()
    return dict(fits=_save(root / 'lenet16.pth', state),
                other=_save(root / 'other16.pth', other),
                bits8=_save(root / 'lenet8.pth', state8),
                renamed=_save(root / 'renamed.pth', renamed))


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp('images')
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (28, 28), np.uint8)).save(
            root / f'digit{i}.png')
    return str(root)


def test_test_tool_refuses_a_checkpoint_whose_hash_layer_does_not_match(
        tmp_path, checkpoints, monkeypatch):
    """Was: loaded non-strictly (a warning on stderr), a partly random
    model evaluated, mAP 0.53 instead of 0.81, exit 0."""
    script = osp.join(REPO_ROOT, 'tools', 'test.py')
    monkeypatch.setattr(sys, 'argv', [
        script, CONFIG, checkpoints['renamed'], '--work-dir',
        str(tmp_path / 'work'), '--cfg-options', *TINY_TEST])
    with pytest.raises(ValueError) as err:
        runpy.run_path(script, run_name='__main__')
    message = str(err.value)
    assert 'renamed.pth does not fit the model DeepHasher' in message
    assert 'head.fc_hash.weight' in message  # missing from the checkpoint
    assert 'head.hash_fc.weight' in message  # not in the model
    assert 'named differently' in message
    assert 'checkpoint_fit_check = False' in message
    # the checkpoint that fits is evaluated as before
    out = tmp_path / 'metrics.json'
    monkeypatch.setattr(sys, 'argv', [
        script, CONFIG, checkpoints['fits'], '--work-dir',
        str(tmp_path / 'work'), '--out', str(out), '--out-item', 'metrics',
        '--cfg-options', *TINY_TEST])
    runpy.run_path(script, run_name='__main__')
    assert 0 <= json.loads(out.read_text())['hashing/mAP@all'] <= 1


def _train_cfg(tmp_path, **options):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / 'work'), 'log_level': 'WARNING',
        'train_dataloader.dataset.indices': 8,
        'train_dataloader.batch_size': 4,
        'train_cfg.max_epochs': 1, 'val_cfg': None, 'val_dataloader': None,
        'val_evaluator': None, **options})
    add_reliability_hooks(cfg)  # as tools/train.py does
    return cfg


def test_load_from_refuses_a_checkpoint_whose_hash_layer_does_not_match(
        tmp_path, checkpoints):
    cfg = _train_cfg(tmp_path, load_from=checkpoints['renamed'],
                     experiment_name='load_from_renamed')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'renamed.pth does not fit the '
                       r'model DeepHasher.*head.fc_hash.weight'):
        runner.train()


def test_fit_policy_names_missing_and_unexpected_keys():
    model = {'backbone.w': torch.zeros(2), 'head.fc.weight': torch.zeros(3)}
    assert checkpoint_mismatch(dict(model), model) is None
    # BatchNorm's step counter may be absent (PyTorch fills it in)
    assert checkpoint_mismatch(
        {'module.backbone.w': torch.zeros(2),
         'head.fc.weight': torch.zeros(3)},
        dict(model, **{'bn.num_batches_tracked': torch.zeros(())})) is None
    missing = checkpoint_mismatch({'backbone.w': torch.zeros(2)}, model)
    assert "1 key(s) of the model are not in the checkpoint " \
        "(head.fc.weight)" in missing
    assert "init_cfg=dict(type='Pretrained'" in missing
    unexpected = checkpoint_mismatch(
        dict(model, **{'discriminator.w': torch.zeros(1)}), model)
    assert '1 of its keys are not in the model (discriminator.w)' \
        in unexpected


@pytest.mark.parametrize('kind,says', [
    ('bits8', ('head.fc_hash.weight: checkpoint (8, 120) vs model (16, 120)',
               'another num_bits')),
    ('renamed', ('head.hash_fc.weight', 'named differently')),
])
def test_encode_tool_names_the_checkpoint_and_the_fix(tmp_path, checkpoints,
                                                      images, kind, says):
    """Was (8 bits): mmengine's 'size mismatch for head.fc_hash.weight'
    list, without the file or the fix."""
    out = tmp_path / 'db.index.npz'
    with pytest.raises(ValueError) as err:
        _tool('encode').main([CONFIG, checkpoints[kind], '--images', images,
                              '--out', str(out), '--device', 'cpu',
                              '--no-progress'])
    message = str(err.value)
    name = osp.basename(checkpoints[kind])
    assert f'{name} does not fit the model DeepHasher' in message
    assert all(s in message for s in says), message
    assert 'Give the config the checkpoint was trained with' in message
    assert not out.exists()


def test_retrieve_refuses_a_checkpoint_other_than_the_index_s(
        tmp_path, checkpoints, images):
    """Was: no message, the queries' mAP fell from 0.81 to 0.54."""
    index = str(tmp_path / 'db.index.npz')
    _tool('encode').main([CONFIG, checkpoints['fits'], '--images', images,
                          '--out', index, '--device', 'cpu',
                          '--no-progress'])
    retrieve = _tool('retrieve')
    common = [index, '--queries', images, '--topk', '2', '--device', 'cpu',
              '--no-progress']
    with pytest.raises(SystemExit) as err:
        retrieve.main([CONFIG, checkpoints['other'], *common])
    message = str(err.value)
    assert f'{index} was encoded with checkpoint {checkpoints["fits"]}' \
        in message
    assert f'the checkpoint given is {checkpoints["other"]}' in message
    assert '--allow-other-checkpoint' in message
    with pytest.warns(UserWarning, match='was encoded with checkpoint'):
        records = retrieve.main([CONFIG, checkpoints['other'], *common,
                                 '--allow-other-checkpoint'])
    assert len(records) == 3
    assert len(retrieve.main([CONFIG, checkpoints['fits'], *common])) == 3
