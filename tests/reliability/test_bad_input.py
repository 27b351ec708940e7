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

# ---------------------------------------------------------------- METAH


def _metah(in_channels=8, num_classes=4):
    return dict(type='TransferHasher', backbone=dict(type='LeNet5'),
                head=dict(type='HashHead', in_channels=120, num_bits=8,
                          num_classes=10),
                transfer_heads=dict(semantic=dict(
                    type='CodeClassifierHead', in_channels=in_channels,
                    num_classes=num_classes)))


def test_code_classifier_must_fit_the_hash_head():
    with pytest.raises(ValueError, match=r'transfer_heads.semantic.'
                       r'in_channels=16 but head.num_bits=8'):
        MODELS.build(_metah(in_channels=16, num_classes=10))
    with pytest.raises(ValueError, match=r'transfer_heads.semantic.'
                       r'num_classes=4 but head.num_classes=10'):
        MODELS.build(_metah(num_classes=4))


def test_code_classifier_label_out_of_range_names_the_head():
    from mmpretrain.structures import DataSample
    head = MODELS.build(dict(type='CodeClassifierHead', in_channels=8,
                             num_classes=4))
    samples = [DataSample().set_gt_label(5), DataSample().set_gt_label(1)]
    with pytest.raises(ValueError, match=r'CodeClassifierHead: label index '
                       r'5 is out of range for num_classes=4; set its '
                       r'num_classes'):
        head.loss(torch.randn(2, 8), torch.randn(2, 8), samples)


@pytest.mark.parametrize('module,attribute,message', [
    ('transfer_heads.nothing', 'ent_ramp',
     "TransferHasher.*has no submodule 'transfer_heads.nothing'"),
    ('transfer_heads.semantic', 'typo', r'transfer_heads.semantic '
     r"\(CodeClassifierHead\) has no float attribute 'typo'"),
])
def test_ramp_hook_names_the_missing_module_or_attribute(module, attribute,
                                                         message):
    from types import SimpleNamespace

    from mmpretrain.registry import HOOKS
    runner = SimpleNamespace(model=MODELS.build(_metah(num_classes=10)),
                             iter=0)
    hook = HOOKS.build(dict(type='RampScheduleHook', module=module,
                            attribute=attribute))
    with pytest.raises(ValueError, match=message):
        hook.before_train(runner)

# ---------------------------------------------------------------- DSH-GANs


def _dsh(generator_classes=4, conditioning='ac', hasher_classes=4):
    return dict(
        type='DSHGANs',
        generator=dict(type='DCGANGenerator', out_size=32, noise_size=8,
                       base_channels=8, num_classes=generator_classes),
        discriminator=dict(type='DCGANDiscriminator', in_size=32,
                           base_channels=8, conditioning=conditioning,
                           num_classes=conditioning and generator_classes),
        hasher=dict(
            type='ThreeStreamHashNet',
            backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=4,
                          base_channels=4, out_indices=(3, )),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='HashHead', in_channels=32, num_bits=6,
                      activation='sigmoid'),
            num_classes=hasher_classes))


@pytest.mark.parametrize('kwargs,got', [
    (dict(generator_classes=None, conditioning=None),
     'generator.num_classes=None, discriminator.conditioning=None'),
    (dict(conditioning='projection'),
     "generator.num_classes=4, discriminator.conditioning='projection'"),
])
def test_dsh_gans_needs_conditional_generator_and_ac_discriminator(kwargs,
                                                                   got):
    with pytest.raises(ValueError, match=r"DSHGANs: needs a class-"
                       r"conditional generator.*conditioning='ac'.*got " +
                       got):
        MODELS.build(_dsh(**kwargs))


def test_dsh_gans_hasher_classes_must_match_the_generator():
    with pytest.raises(ValueError, match=r'DSHGANs: hasher.num_classes=3 '
                       r'but generator.num_classes=4'):
        MODELS.build(_dsh(hasher_classes=3))


def test_empty_labelled_set_is_named():
    from mmengine.dataset import BaseDataset

    class Tiny(BaseDataset):

        def __init__(self, n):
            self.n = n
            super().__init__(pipeline=[], serialize_data=False)

        def load_data_list(self):
            return [dict(img_path=f'{i}.jpg', gt_label=0)
                    for i in range(self.n)]

    for exclude in (True, False):
        with pytest.raises(ValueError, match='SemiSupervisedDataset: the '
                           'labelled dataset is empty'):
            DATASETS.build(dict(type='SemiSupervisedDataset',
                                labelled=Tiny(0), unlabelled=Tiny(3),
                                exclude_labelled=exclude))

# ---------------------------------------------------------------- retrieval


RETRIEVAL_CONFIG = osp.join(REPO_ROOT, 'configs', 'dpsh',
                            'dpsh_lenet5_mnist5k_16bit.py')


def _tool(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO_ROOT, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def encoder_checkpoint(tmp_path_factory):
    from hashplugins.apis import HashEncoder
    torch.set_num_threads(1)
    encoder = HashEncoder(RETRIEVAL_CONFIG, device='cpu')
    path = str(tmp_path_factory.mktemp('ckpt') / 'lenet16.pth')
    torch.save(dict(state_dict=encoder.model.state_dict()), path)
    return path


def test_encode_missing_or_imageless_folder(tmp_path, encoder_checkpoint):
    encode = _tool('encode')
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'notes.txt').write_text('no images here')
    for folder, message in (('nope', 'image input .*nope does not exist'),
                            ('empty', r'empty holds no images \(suffixes')):
        with pytest.raises(FileNotFoundError, match=message):
            encode.main([RETRIEVAL_CONFIG, encoder_checkpoint, '--images',
                         str(tmp_path / folder), '--no-progress', '--out',
                         str(tmp_path / 'out.npz')])
    assert not (tmp_path / 'out.npz').exists()


@pytest.mark.parametrize('corrupt', ['truncated', 'not_an_image', 'empty'])
def test_encode_unreadable_image_names_the_file(tmp_path, corrupt,
                                                encoder_checkpoint):
    from hashplugins.apis import HashEncoder
    root = _list_dataset(tmp_path, corrupt)
    encoder = HashEncoder(RETRIEVAL_CONFIG, encoder_checkpoint, device='cpu')
    with pytest.raises(ValueError, match=f'cannot read image {root}/bad.jpg '
                       r'\(not an image, or corrupt\)'):
        encoder(str(root), progress=False)


def test_retrieve_refuses_index_of_other_code_length(tmp_path,
                                                     encoder_checkpoint):
    from hashplugins.apis import BinaryIndex
    index = BinaryIndex(8)
    index.add(np.zeros((3, 1), np.uint8))
    index.save(str(tmp_path / 'db8.npz'))
    with pytest.raises(Exception, match=r'db8.npz.*8-bit codes.*16') as err:
        _tool('retrieve').main([RETRIEVAL_CONFIG, encoder_checkpoint,
                                str(tmp_path / 'db8.npz'), '--queries',
                                str(tmp_path), '--no-progress'])
    assert not isinstance(err.value, AssertionError)


@pytest.mark.parametrize('flag', ['--topk', '--num-queries'])
@pytest.mark.parametrize('value', ['0', '-3'])
def test_retrieve_refuses_nonpositive_topk(flag, value, capsys):
    with pytest.raises(SystemExit):
        _tool('retrieve').parse_args(['c.py', 'c.pth', 'i.npz', flag, value])
    assert f'{flag} must be a positive integer, got {value}' in \
        capsys.readouterr().err
