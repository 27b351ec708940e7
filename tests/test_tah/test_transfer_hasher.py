"""TransferHasher: target labels never reach a loss, domain-tag errors, the
official lr multipliers, and a short real training run through the Runner."""
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401

torch.set_num_threads(1)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@MODELS.register_module(force=True)
class _SpyCodeHead(nn.Module):
    """A transfer head that records what it is given (test only)."""

    in_channels = 8

    def __init__(self):
        super().__init__()
        self.calls = []

    def loss(self, source_codes, target_codes, source_samples):
        self.calls.append((source_codes.shape[0], target_codes.shape[0],
                           [s.gt_label.tolist() for s in source_samples]))
        return {'loss_spy': (target_codes**2).mean() * 0.}


def _model(spy=False):
    heads = dict(domain=dict(type='DomainDiscriminator', in_channels=8,
                             dropout=0.5))
    if spy:
        heads['spy'] = dict(type='_SpyCodeHead')
    return MODELS.build(dict(
        type='TransferHasher',
        backbone=dict(type='LeNet5'),
        head=dict(type='HashHead', in_channels=120, num_bits=8,
                  num_classes=3, losses=dict(
                      pairwise=dict(type='TDistributionPairwiseLoss'),
                      quant=dict(type='HashQuantizationLoss',
                                 mode='logcosh'))),
        transfer_heads=heads))


def _samples(n, target_labels):
    out = [DataSample(metainfo=dict(domain=0)).set_gt_label(i % 3)
           for i in range(n)]
    for label in target_labels:
        sample = DataSample(metainfo=dict(domain=1))
        if label is not None:
            sample.set_gt_label(label)
        out.append(sample)
    return out


def _losses_and_grads(model, x, samples, seed=0):
    model.zero_grad()
    model.set_grl_coeff(0.7)
    torch.manual_seed(seed)  # same dropout masks in every call
    losses = model(x, samples, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()
             if p.grad is not None}
    return {k: v.detach() for k, v in losses.items()}, grads


def test_target_labels_cannot_reach_any_loss():
    torch.manual_seed(0)
    model = _model(spy=True)
    x = torch.randn(8, 1, 32, 32)
    clean = _losses_and_grads(model, x, _samples(4, [None] * 4))
    # Poisoned target labels: every target shares the source classes, or
    # carries a multi-label set; nothing may change.
    for poison in ([0, 1, 2, 0], [[0, 1, 2]] * 4, [2, 2, 2, 2]):
        got = _losses_and_grads(model, x, _samples(4, poison))
        assert got[0].keys() == clean[0].keys()
        for k in clean[0]:
            assert torch.equal(got[0][k], clean[0][k]), k
        for k in clean[1]:
            assert torch.equal(got[1][k], clean[1][k]), k
    # Heads get 4 source codes (with source labels) and 4 target codes.
    spy = model.transfer_heads.spy
    assert all(c == (4, 4, [[0], [1], [2], [0]]) for c in spy.calls)
    # Sanity: the test can fail, i.e. source labels do matter.
    changed = _samples(4, [None] * 4)
    changed[1].set_gt_label(0)
    got = _losses_and_grads(model, x, changed)
    assert not torch.equal(got[0]['loss_pairwise'],
                           clean[0]['loss_pairwise'])


def test_domain_split_is_by_tag_not_position():
    torch.manual_seed(0)
    model = _model()
    model.eval()  # no dropout: compare exact values
    x = torch.randn(6, 1, 32, 32)
    samples = _samples(3, [None] * 3)
    base = model(x, samples, mode='loss')
    order = [3, 0, 4, 1, 5, 2]  # interleave target and source
    shuffled = model(x[order], [samples[i] for i in order], mode='loss')
    for k in ('loss_quant', 'loss_domain'):
        assert torch.allclose(base[k], shuffled[k])
    # the pairwise loss is a mean over all ordered pairs: order-invariant
    assert torch.allclose(base['loss_pairwise'], shuffled['loss_pairwise'])


def test_domain_tag_errors():
    model = _model()
    x = torch.randn(4, 1, 32, 32)
    untagged = [DataSample().set_gt_label(0) for _ in range(4)]
    with pytest.raises(ValueError, match="'domain'"):
        model(x, untagged, mode='loss')
    with pytest.raises(ValueError, match='no target'):
        model(x, _samples(4, []), mode='loss')
    with pytest.raises(ValueError, match='no source'):
        model(x, _samples(0, [None] * 4), mode='loss')
    with pytest.raises(ValueError, match='num_bits=8'):
        MODELS.build(dict(
            type='TransferHasher', backbone=dict(type='LeNet5'),
            head=dict(type='HashHead', in_channels=120, num_bits=8),
            transfer_heads=dict(domain=dict(type='DomainDiscriminator',
                                            in_channels=16))))


def test_official_lr_multipliers_land_on_the_right_params():
    """Caffe lr_mult/decay_mult of the official train.prototxt (spec §2.2):
    pretrained layers 1/2 (bias no decay), fch 10/20 (bias no decay),
    discriminator 10/20 (bias decayed)."""
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/tah/tah_alexnet_visda2017-syn2real_48bit.py'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(cfg.model)
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    base_lr, base_wd = 2e-5, 5e-4
    by_param = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            by_param[id(p)] = (group['lr'], group['weight_decay'])
    expected = {}
    for name, p in model.named_parameters():
        is_bias = name.endswith('.bias')
        if name.startswith('head.fc_hash.'):
            expected[name] = (base_lr * (20 if is_bias else 10),
                              0. if is_bias else base_wd)
        elif name.startswith('transfer_heads.domain.'):
            expected[name] = (base_lr * (20 if is_bias else 10), base_wd)
        else:  # backbone conv1-5 and head.hidden (fc6, fc7)
            expected[name] = (base_lr * (2 if is_bias else 1),
                              0. if is_bias else base_wd)
    got = {n: by_param[id(p)] for n, p in model.named_parameters()}
    for name in expected:
        assert got[name] == pytest.approx(expected[name]), name
    # every kind is present
    assert 'transfer_heads.domain.layers.fc_out.bias' in got
    assert 'head.hidden.0.weight' in got and 'backbone.features.0.bias' in got
    assert isinstance(wrapper.optimizer, torch.optim.SGD)
    assert wrapper.optimizer.defaults['momentum'] == 0.9


def test_short_training_run_through_the_runner(shared_data, tmp_path):
    """MNIST -> USPS config, 4 iterations, small evaluation subsets: the
    wrapper, collate, hook, model and metric work together."""
    from mmengine.runner import Runner

    from transfer_helpers import tiny_mnist2usps_cfg
    cfg = tiny_mnist2usps_cfg(
        osp.join(REPO, 'configs/tah/tah_lenet5_mnist2usps_16bit.py'),
        shared_data, str(tmp_path))
    cfg.custom_hooks[0].horizon = 4  # the GRL schedule (500 in the config)
    runner = Runner.from_cfg(cfg)
    runner.train()
    coeff = runner.model.transfer_heads.domain.grl.coeff
    assert coeff == pytest.approx(2 / (1 + torch.exp(torch.tensor(
        -10 * 3 / 4)).item()) - 1)  # set before the last iteration (iter 3)
    metrics = runner.test()
    assert 0 <= metrics['hashing/MAP@H<=2'] <= 1
    assert 0 < metrics['hashing/mAP@all'] <= 1
