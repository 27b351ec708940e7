"""GANRegularizedHasher: fakes reach only the max-entropy loss, never the
supervised loss; reals and fakes are split by the is_fake tag."""
import pytest
import torch
from mmpretrain.registry import MODELS

import hashplugins  # noqa: F401
from hashplugins.datasets import real_fake_collate
from hashplugins.models.losses import max_entropy_loss, triplet_ranking_loss

from test_fake_data import _mix

torch.set_num_threads(1)


def _hasher(**kwargs):
    torch.manual_seed(0)
    cfg = dict(
        type='GANRegularizedHasher',
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[33.3],
                               std=[78.6]),
        backbone=dict(type='LeNet5'),  # no BatchNorm: samples independent
        head=dict(type='HashHead', in_channels=120, num_bits=8,
                  num_classes=10,
                  losses=dict(triplet=dict(type='TripletRankingLoss',
                                           margin=2.))),
        fake_loss=dict(type='MaxEntropyLoss', loss_weight=0.5))
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_fakes_never_reach_the_supervised_loss():
    model = _hasher()
    dataset = _mix(fakes_per_real=2)
    data = model.data_preprocessor(
        real_fake_collate([dataset[i] for i in range(12)]), True)
    inputs = data['inputs'].clone().requires_grad_(True)
    samples = data['data_samples']
    # 12 real images of 10 classes: the batch holds positive pairs
    losses = model.loss(inputs, samples)
    assert set(losses) == {'loss_triplet', 'loss_maxent'}

    codes = model(inputs.detach(), mode='tensor')
    labels = torch.stack([s.gt_score for s in samples[:12]])
    assert torch.allclose(losses['loss_triplet'],
                          triplet_ranking_loss(codes[:12], labels, 2.))
    assert torch.allclose(losses['loss_maxent'],
                          0.5 * max_entropy_loss(codes[12:]))
    # no gradient of the supervised loss flows into any fake image
    grad, = torch.autograd.grad(losses['loss_triplet'], inputs,
                                retain_graph=True)
    assert grad[12:].abs().sum() == 0 and grad[:12].abs().sum() > 0
    grad, = torch.autograd.grad(losses['loss_maxent'], inputs)
    assert grad[:12].abs().sum() == 0 and grad[12:].abs().sum() > 0


def test_tag_is_required_and_reals_needed():
    model = _hasher()
    dataset = _mix(fakes_per_real=1)
    data = model.data_preprocessor(
        real_fake_collate([dataset[i] for i in range(3)]), True)
    samples = data['data_samples']
    only_fakes = samples[3:]
    with pytest.raises(ValueError, match='no real'):
        model.loss(data['inputs'][3:], only_fakes)
    del samples[1].is_fake
    with pytest.raises(ValueError, match='sample 1'):
        model.loss(data['inputs'], samples)


def test_code_range_must_match_activation():
    with pytest.raises(ValueError, match='code_range'):
        _hasher(fake_loss=dict(type='MaxEntropyLoss', code_range='sigmoid'))
    assert _hasher(fake_loss=None).fake_loss is None
