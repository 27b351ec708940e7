"""DCGAN generator / discriminator shapes, conditioning and errors."""
import pytest
import torch
from mmpretrain.registry import MODELS

import hashplugins  # noqa: F401

torch.set_num_threads(1)


@pytest.mark.parametrize('size', [32, 64])
def test_generator_discriminator_shapes(size):
    g = MODELS.build(dict(type='DCGANGenerator', out_size=size,
                          noise_size=8, base_channels=4))
    d = MODELS.build(dict(type='DCGANDiscriminator', in_size=size,
                          base_channels=4))
    img = g(torch.randn(3, 8))
    assert img.shape == (3, 3, size, size)
    assert img.abs().max() <= 1
    logit, cls = d(img)
    assert logit.shape == (3, ) and cls is None


def test_conditional_generator_uses_labels():
    g = MODELS.build(dict(type='DCGANGenerator', noise_size=8,
                          base_channels=4, num_classes=5)).eval()
    z = torch.randn(1, 8).repeat(2, 1)
    out = g(z, torch.tensor([0, 3]))
    assert not torch.allclose(out[0], out[1])
    with pytest.raises(ValueError, match='needs labels'):
        g(z)
    plain = MODELS.build(dict(type='DCGANGenerator', noise_size=8))
    with pytest.raises(ValueError, match='unconditional'):
        plain(z, torch.tensor([0, 1]))


def test_projection_and_ac_discriminators():
    img = torch.rand(2, 3, 32, 32) * 2 - 1
    proj = MODELS.build(dict(type='DCGANDiscriminator', base_channels=4,
                             num_classes=5, conditioning='projection'))
    a, _ = proj(img, torch.tensor([0, 0]))
    b, _ = proj(img, torch.tensor([1, 1]))
    # projection term: logit(y) - logit(y') = <E_y - E_y', phi(x)>
    feats = proj.features(img).flatten(1)
    diff = ((proj.class_embed.weight[0] - proj.class_embed.weight[1]) *
            feats).sum(1)
    assert torch.allclose(a - b, diff, atol=1e-5)
    with pytest.raises(ValueError, match='needs labels'):
        proj(img)
    ac = MODELS.build(dict(type='DCGANDiscriminator', base_channels=4,
                           num_classes=5, conditioning='ac'))
    logit, cls = ac(img)
    assert logit.shape == (2, ) and cls.shape == (2, 5)


def test_bad_configs_raise():
    with pytest.raises(ValueError, match='one of'):
        MODELS.build(dict(type='DCGANGenerator', out_size=48))
    with pytest.raises(ValueError, match='together'):
        MODELS.build(dict(type='DCGANDiscriminator', conditioning='ac'))
    d = MODELS.build(dict(type='DCGANDiscriminator', base_channels=4))
    with pytest.raises(ValueError, match='32x32'):
        d(torch.zeros(1, 3, 64, 64))
