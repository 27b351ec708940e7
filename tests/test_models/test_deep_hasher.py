import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401


def _hasher(activation='tanh', num_bits=16):
    return MODELS.build(
        dict(
            type='DeepHasher',
            backbone=dict(type='LeNet5'),
            head=dict(
                type='HashHead',
                in_channels=120,
                num_bits=num_bits,
                activation=activation,
                losses=dict(
                    pairwise=dict(type='PairwiseLogisticLoss'),
                    quant=dict(type='HashQuantizationLoss',
                               loss_weight=0.1)))))


def test_loss_and_predict_shapes():
    model = _hasher()
    x = torch.randn(4, 1, 32, 32)
    samples = [DataSample().set_gt_label(i % 2) for i in range(4)]
    losses = model(x, samples, mode='loss')
    assert set(losses) == {'loss_pairwise', 'loss_quant'}
    codes = model(x, mode='tensor')
    assert codes.shape == (4, 16) and codes.abs().max() < 1
    out = model(x, samples, mode='predict')
    for sample, code in zip(out, codes):
        assert set(sample.hash_code.unique().tolist()) <= {-1., 1.}
        assert torch.equal(sample.hash_code, torch.where(code >= 0, 1., -1.))


@pytest.mark.parametrize('activation,value,expected',
                         [('tanh', 0., 1.), ('tanh', -1e-6, -1.),
                          ('sigmoid', 0.5, 1.), ('sigmoid', 0.49, -1.),
                          ('identity', 0., 1.)])
def test_binarize_maps_midpoint_to_plus_one(activation, value, expected):
    head = _hasher(activation).head
    assert head.binarize(torch.tensor([[value]])).item() == expected


def test_head_rejects_wrong_feature_width():
    head = _hasher().head
    with pytest.raises(ValueError, match='in_channels=120'):
        head(torch.randn(2, 64))


def test_head_rejects_bad_num_bits():
    with pytest.raises(ValueError, match='num_bits'):
        MODELS.build(dict(type='HashHead', in_channels=4, num_bits=0))


def test_gradients_reach_backbone():
    model = _hasher()
    x = torch.randn(6, 1, 32, 32)
    samples = [DataSample().set_gt_label(i % 3) for i in range(6)]
    loss = sum(model(x, samples, mode='loss').values())
    loss.backward()
    assert model.backbone.features[0].weight.grad.abs().sum() > 0


def _scaled_head(activation, scale):
    torch.manual_seed(0)
    # std 1: no z within sigmoid's rounding distance (1e-7) of its midpoint
    head = MODELS.build(dict(type='HashHead', in_channels=10, num_bits=8,
                             activation=activation, scale=scale,
                             init_cfg=dict(type='Normal', layer='Linear',
                                           std=1., bias=0.)))
    head.init_weights()
    return head


@pytest.mark.parametrize('activation', ['tanh', 'sigmoid', 'identity'])
def test_scale_multiplies_inside_the_activation(activation):
    """codes = act(scale * (W x + c)): the continuation's tanh(beta z)."""
    squash = dict(tanh=torch.tanh, sigmoid=torch.sigmoid,
                  identity=lambda v: v)[activation]
    feats = torch.randn(5, 10, generator=torch.Generator().manual_seed(1))
    head = _scaled_head(activation, 2.5)
    assert head.scale == 2.5
    z = feats @ head.fc_hash.weight.t() + head.fc_hash.bias
    torch.testing.assert_close(head(feats), squash(2.5 * z))
    default = _scaled_head(activation, 1.0)
    assert default.scale == 1.0
    torch.testing.assert_close(default(feats), squash(z))
    # a plain attribute: a hook sets it between iterations
    head.scale = 7.
    torch.testing.assert_close(head(feats), squash(7. * z))


@pytest.mark.parametrize('activation', ['tanh', 'sigmoid', 'identity'])
def test_scale_leaves_binary_codes_unchanged(activation):
    feats = torch.randn(64, 10, generator=torch.Generator().manual_seed(2))
    codes = [
        _scaled_head(activation, s).predict(feats)
        for s in (1.0, 0.01, 3.0, 1e3)
    ]
    for other in codes[1:]:
        for a, b in zip(codes[0], other):
            assert torch.equal(a.hash_code, b.hash_code)


@pytest.mark.parametrize('bad', [0, -1., float('inf'), float('nan'), True,
                                 '2', None])
def test_head_rejects_bad_scale(bad):
    with pytest.raises(ValueError, match='scale must be a positive'):
        MODELS.build(dict(type='HashHead', in_channels=4, num_bits=8,
                          scale=bad))
