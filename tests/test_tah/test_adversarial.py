"""Gradient reversal, the discriminator head and the lambda_p schedule hook."""
import glob
import math
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from config_helpers import drop_pretrained
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmpretrain.registry import HOOKS, MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from hashplugins.engine.hooks import GradientReversalScheduleHook, grl_coeff
from hashplugins.models.utils import GradientReversal, grad_reverse

torch.set_num_threads(1)


@pytest.mark.parametrize('coeff', [0., 0.37, 1.])
def test_grad_reverse_flips_and_scales(coeff):
    x = torch.randn(5, 3, requires_grad=True)
    upstream = torch.randn(5, 3)
    y = grad_reverse(x, coeff)
    assert torch.equal(y, x)
    y.backward(upstream)
    assert torch.allclose(x.grad, -coeff * upstream)
    layer = GradientReversal(coeff)
    x.grad = None
    layer(x).backward(upstream)
    assert torch.allclose(x.grad, -coeff * upstream)


def test_schedule_matches_formula():
    hook = GradientReversalScheduleHook()
    for it, p in [(0, 0.), (1, 1e-4), (500, .05), (2500, .25), (5000, .5),
                  (9999, .9999), (10000, 1.), (25000, 1.)]:
        expected = 2. / (1. + math.exp(-10. * p)) - 1.
        assert hook.coeff_at(it) == pytest.approx(expected, abs=1e-15)
    assert hook.coeff_at(0) == 0.
    assert hook.coeff_at(10000) == pytest.approx(0.9999092042625951)
    # general form 2(u-l)/(1+exp(-alpha p)) - (u-l) + l
    custom = GradientReversalScheduleHook(alpha=5., horizon=200, low=.1,
                                          high=.6)
    for it in (0, 50, 100, 200, 400):
        p = min(1., it / 200)
        expected = 2 * .5 / (1 + math.exp(-5. * p)) - .5 + .1
        assert custom.coeff_at(it) == pytest.approx(expected, abs=1e-15)
    with pytest.raises(ValueError, match='horizon'):
        grl_coeff(10, horizon=0)


def _tah_model(num_bits=8, dropout=0.5, heads=True):
    cfg = dict(
        type='TransferHasher',
        backbone=dict(type='LeNet5'),
        head=dict(
            type='HashHead', in_channels=120, num_bits=num_bits,
            num_classes=3,
            losses=dict(
                pairwise=dict(type='TDistributionPairwiseLoss'),
                quant=dict(type='HashQuantizationLoss', mode='logcosh',
                           loss_weight=0.5))))
    if heads:
        cfg['transfer_heads'] = dict(
            domain=dict(type='DomainDiscriminator', in_channels=num_bits,
                        dropout=dropout, loss_weight=0.8))
    return MODELS.build(cfg)


def _batch(n=4, seed=0, target_labels=None):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2 * n, 1, 32, 32, generator=g)
    samples = [DataSample(metainfo=dict(domain=0)).set_gt_label(i % 3)
               for i in range(n)]
    for i in range(n):
        sample = DataSample(metainfo=dict(domain=1))
        if target_labels is not None:
            sample.set_gt_label(target_labels[i])
        samples.append(sample)
    return x, samples


def test_hook_sets_model_coefficient_and_logs():
    model = _tah_model()
    hook = HOOKS.build(dict(type='GradientReversalScheduleHook',
                            horizon=100))
    hub = MessageHub.get_instance('test_tah_grl_hook')
    runner = SimpleNamespace(model=model, iter=0, message_hub=hub)
    hook.before_train(runner)
    for it in (0, 10, 50, 100, 150):
        runner.iter = it
        hook.before_train_iter(runner, batch_idx=it)
        expected = 2. / (1. + math.exp(-10. * min(1., it / 100))) - 1.
        assert model.transfer_heads.domain.grl.coeff == pytest.approx(
            expected)
        assert hub.get_scalar('train/grl_coeff').current() == pytest.approx(
            expected)


def test_hook_refuses_models_without_reversal():
    hook = GradientReversalScheduleHook()
    hub = MessageHub.get_instance('test_tah_grl_hook_err')
    with pytest.raises(ValueError, match='no GradientReversal'):
        hook.before_train(SimpleNamespace(
            model=_tah_model(heads=False), iter=0, message_hub=hub))
    deep = MODELS.build(dict(
        type='DeepHasher', backbone=dict(type='LeNet5'),
        head=dict(type='HashHead', in_channels=120, num_bits=8)))
    with pytest.raises(TypeError, match='set_grl_coeff'):
        hook.before_train(SimpleNamespace(model=deep, iter=0,
                                          message_hub=hub))


def test_reversal_through_the_model_scales_feature_gradients():
    """The domain loss reaches the discriminator unchanged and the codes
    (hence the backbone) with -lambda times its plain gradient."""
    model = _tah_model(dropout=0.)
    x, samples = _batch()
    disc = model.transfer_heads.domain

    def grads(coeff):
        model.zero_grad()
        model.set_grl_coeff(coeff)
        losses = model(x, samples, mode='loss')
        losses['loss_domain'].backward()
        return (model.backbone.features[0].weight.grad.clone(),
                disc.layers.fc1.weight.grad.clone())

    bb_03, d_03 = grads(0.3)
    bb_1, d_1 = grads(1.)
    assert torch.allclose(d_03, d_1)  # discriminator: plain descent
    assert torch.allclose(bb_03, 0.3 * bb_1, atol=1e-9)
    # plain (unreversed) gradient of the same loss wrt the backbone
    model.zero_grad()
    codes = model(x, mode='tensor')
    logits = disc.layers(codes).squeeze(1)
    domains = torch.tensor([0.] * 4 + [1.] * 4)
    (0.8 * F.binary_cross_entropy_with_logits(logits, domains)).backward()
    plain = model.backbone.features[0].weight.grad
    assert torch.allclose(bb_1, -plain, atol=1e-9)
    assert plain.abs().sum() > 0


def test_discriminator_architecture_init_and_loss():
    torch.manual_seed(0)
    disc = MODELS.build(dict(type='DomainDiscriminator', in_channels=64))
    linears = [disc.layers.fc1, disc.layers.fc2, disc.layers.fc_out]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (64, 1024), (1024, 1024), (1024, 1)]
    assert [type(m).__name__ for m in disc.layers] == [
        'Linear', 'ReLU', 'Dropout', 'Linear', 'ReLU', 'Dropout', 'Linear'
    ]
    assert all(m.p == 0.5 for m in disc.layers if isinstance(
        m, torch.nn.Dropout))
    for m, std in zip(linears, (0.01, 0.01, 0.3)):
        assert m.weight.std().item() == pytest.approx(std, rel=0.1)
        assert abs(m.weight.mean().item()) < std / 5
        assert torch.count_nonzero(m.bias) == 0
    disc.eval()
    src, tgt = torch.randn(3, 64), torch.randn(5, 64)
    out = disc.loss(src, tgt)
    with torch.no_grad():
        logits = disc.layers(torch.cat([src, tgt])).squeeze(1)
    ref = sum(math.log(1 + math.exp(float(v))) for v in logits[:3]) + sum(
        math.log(1 + math.exp(-float(v))) for v in logits[3:])
    assert out['loss_domain'].item() == pytest.approx(ref / 8, rel=1e-5)
    acc = ((logits[:3] < 0).sum() + (logits[3:] >= 0).sum()).item() / 8
    assert out['domain_acc'].item() == pytest.approx(100 * acc)
    with pytest.raises(ValueError, match='init_std'):
        MODELS.build(dict(type='DomainDiscriminator', in_channels=8,
                          init_std=(0.01, 0.3)))
    with pytest.raises(ValueError, match='in_channels=64'):
        disc(torch.randn(2, 16))


REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RELEASED = sorted(glob.glob(osp.join(REPO, 'configs/tah/tah-released_*.py')))


@pytest.mark.parametrize('path', RELEASED,
                         ids=[osp.basename(p) for p in RELEASED])
def test_released_code_variant_reverses_fully_from_the_start(path):
    """The tah-released_* configs train as thuml/TAH's Caffe code does:
    coefficient 1 from the first iteration and no schedule hook; the rest
    equals the paper-schedule config they inherit from."""
    cfg = Config.fromfile(path)
    paper = Config.fromfile(path.replace('tah-released_', 'tah_'))
    hooks = [h['type'] for h in cfg.custom_hooks]
    assert 'GradientReversalScheduleHook' not in hooks
    assert 'GradientReversalScheduleHook' in [
        h['type'] for h in paper.custom_hooks]
    model_cfg = cfg.model.to_dict()
    drop_pretrained(model_cfg)
    model = MODELS.build(model_cfg)
    assert model.transfer_heads.domain.grl.coeff == 1.0
    assert cfg.train_dataloader.drop_last  # full batches, as Caffe's
    for key in ('train_dataloader', 'optim_wrapper', 'train_cfg',
                'param_scheduler', 'val_evaluator'):
        assert cfg[key] == paper[key], key
    paper.model.transfer_heads.domain.grl_coeff = 1.0
    assert cfg.model == paper.model
