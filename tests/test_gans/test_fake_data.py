"""Fake-image bank (atomic, complete, reloads identically), the on-the-fly
generator source, real+fake batches, and the tool."""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import DATASETS

import hashplugins  # noqa: F401
from hashplugins.datasets import (FakeImageBank, read_manifest,
                                  real_fake_collate, write_fake_bank)
from hashplugins.datasets.fake_image_bank import to_uint8_images

from gan_helpers import build_gan, gan_cfg

torch.set_num_threads(1)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BANK_PIPELINE = [dict(type='LoadImageFromFile'),
                 dict(type='PackHashInputs', num_classes=10)]


def _gan_sampler(model):
    return lambda n, labels, rng: model.sample(n, labels=labels,
                                               generator=rng)


def test_bank_reloads_identically(tmp_path):
    model = build_gan(num_classes=10, conditioning='ac').eval()
    out = write_fake_bank(_gan_sampler(model), str(tmp_path / 'bank'), 23,
                          num_classes=10, batch_size=8, seed=3)
    rng = torch.Generator().manual_seed(3)
    labels = torch.arange(23) % 10
    expected = np.concatenate([
        to_uint8_images(model.sample(n, labels=labels[s:s + n],
                                     generator=rng))
        for s, n in ((0, 8), (8, 8), (16, 7))])
    bank = FakeImageBank(data_root=out, pipeline=BANK_PIPELINE)
    assert len(bank) == 23
    for i in range(23):
        packed = bank[i]
        # LoadImageFromFile gives BGR; the bank stores RGB PNG (lossless)
        img = packed['inputs'].permute(1, 2, 0).numpy()[..., ::-1]
        assert np.array_equal(img, expected[i]), i
        assert bank.get_data_info(i)['cond_label'] == i % 10
        sample = packed['data_samples']
        assert sample.gt_label.numel() == 0  # fakes are unlabelled
        assert sample.gt_score.sum() == 0
    assert not [p for p in os.listdir(tmp_path) if '.tmp-' in p]


def test_bank_is_complete_or_absent(tmp_path):
    model = build_gan().eval()
    target = str(tmp_path / 'bank')
    seen = []

    def failing(n, labels, rng):
        seen.append(osp.exists(target))
        if len(seen) == 3:
            raise RuntimeError('generator crashed')
        return model.sample(n, generator=rng)

    with pytest.raises(RuntimeError, match='crashed'):
        write_fake_bank(failing, target, 20, batch_size=4)
    assert seen == [False, False, False]  # never visible while writing
    assert os.listdir(tmp_path) == []  # nothing half-written left behind

    write_fake_bank(_gan_sampler(model), target, 6, batch_size=4)
    with pytest.raises(FileExistsError):
        write_fake_bank(_gan_sampler(model), target, 6)
    manifest = read_manifest(target)
    assert manifest['num_images'] == 6 and manifest['labels'] is None
    # a damaged bank is refused, naming the file
    os.remove(osp.join(target, 'images', '000004.png'))
    with pytest.raises(ValueError, match='000004.png'):
        FakeImageBank(data_root=target, pipeline=BANK_PIPELINE)
    # overwrite swaps in a complete new bank
    write_fake_bank(_gan_sampler(model), target, 5, overwrite=True)
    assert len(FakeImageBank(data_root=target)) == 5
    os.remove(osp.join(target, 'manifest.json'))
    with pytest.raises(FileNotFoundError, match='incomplete'):
        FakeImageBank(data_root=target)


def test_generated_fakes_from_checkpoint(tmp_path):
    model = build_gan(num_classes=10, conditioning='projection')
    ckpt = str(tmp_path / 'gan.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    dataset = DATASETS.build(dict(
        type='GeneratedFakeDataset', generator=gan_cfg(num_classes=10)[
            'generator'], checkpoint=ckpt, num_samples=50, seed=1,
        pipeline=[dict(type='PackHashInputs', num_classes=10)]))
    for name, value in model.generator.state_dict().items():
        assert torch.equal(dataset.generator.state_dict()[name], value)
    assert not any(p.requires_grad for p in dataset.generator.parameters())
    info = dataset.get_data_info(7)
    assert info['cond_label'] == 7 and info['is_fake']
    assert np.array_equal(info['img'], dataset.get_data_info(7)['img'])
    assert not np.array_equal(info['img'], dataset.get_data_info(17)['img'])
    # same pixels as the GAN's own sampler, channels as a loader gives them
    rng = torch.Generator().manual_seed(1 * 1000003 + 7)
    noise = torch.randn(1, 16, generator=rng)
    ref = to_uint8_images(model.sample(1, labels=torch.tensor([7]),
                                       noise=noise))[0]
    assert np.array_equal(info['img'], ref[..., ::-1])
    assert dataset[7]['data_samples'].gt_score.sum() == 0
    with pytest.raises(KeyError, match='prefix'):
        DATASETS.build(dict(type='GeneratedFakeDataset',
                            generator=gan_cfg()['generator'],
                            checkpoint=ckpt, generator_prefix='g.'))


def _mix(fakes_per_real=2):
    real = dict(type='MNIST5kHashing', split='train', three_channels=False,
                indices=list(range(0, 1980, 165)),
                pipeline=[dict(type='Resize', scale=(32, 32)),
                                      dict(type='PackHashInputs',
                                           num_classes=10)])
    fake = dict(type='GeneratedFakeDataset', num_samples=10,
                generator=gan_cfg(channels=1)['generator'],
                pipeline=[dict(type='PackHashInputs', num_classes=10)])
    return DATASETS.build(dict(type='RealFakeDataset', real=real, fake=fake,
                               fakes_per_real=fakes_per_real, seed=0))


def test_real_fake_batches_are_tagged():
    dataset = _mix(fakes_per_real=2)
    assert len(dataset) == 12
    batch = real_fake_collate([dataset[i] for i in (0, 5, 11)])
    samples = batch['data_samples']
    assert len(samples) == 3 + 6
    assert [s.is_fake for s in samples] == [False] * 3 + [True] * 6
    assert [s.domain for s in samples] == [0] * 3 + [1] * 6
    for s in samples[:3]:
        assert s.gt_label.numel() == 1
    for s in samples[3:]:
        assert s.gt_label.numel() == 0 and s.gt_score.sum() == 0
    # the fake order covers every fake once per pass
    seen = [j for i in range(5) for j in dataset.fake_indices(i)]
    assert sorted(seen) == list(range(10))
    with pytest.raises(ValueError, match='fakes_per_real'):
        _mix(fakes_per_real=0)


def test_gan_bank_tool(tmp_path):
    cfg_path = str(tmp_path / 'gan.py')
    Config(dict(model=gan_cfg())).dump(cfg_path)
    model = build_gan()
    ckpt = str(tmp_path / 'gan.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    spec = importlib.util.spec_from_file_location(
        'gan_bank_tool', osp.join(REPO, 'tools', 'gan_bank.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tool.main([cfg_path, ckpt, str(tmp_path / 'bank'), '--num', '5',
                     '--seed', '2'])
    manifest = read_manifest(out)
    assert manifest['num_images'] == 5
    assert manifest['meta']['checkpoint'] == ckpt
    with open(osp.join(out, 'manifest.json')) as f:
        assert json.load(f)['seed'] == 2
