"""METAH composed from TAH's parts: poisoned target labels change nothing,
and a short real Runner training of the MNIST -> USPS config."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401

torch.set_num_threads(1)
REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/metah/metah_lenet5_mnist2usps_16bit.py')


def _model():
    cfg = Config.fromfile(CONFIG)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
    model.eval()  # no dropout: exact comparisons
    return model


def _samples(target_labels):
    out = [DataSample(metainfo=dict(domain=0)).set_gt_label(i % 10)
           for i in range(4)]
    for label in target_labels:
        sample = DataSample(metainfo=dict(domain=1))
        if label is not None:
            sample.set_gt_label(label)
        out.append(sample)
    return out


def test_target_labels_change_no_metah_loss():
    model = _model()
    assert set(model.transfer_heads) == {'domain', 'semantic'}
    x = torch.randn(8, 1, 32, 32)

    def run(samples):
        model.zero_grad()
        losses = model(x, samples, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        return losses, {n: p.grad.clone() for n, p in
                        model.named_parameters() if p.grad is not None}

    clean, clean_grads = run(_samples([None] * 4))
    assert {'loss_cls', 'loss_ent', 'loss_domain'} <= set(clean)
    for poison in ([0, 1, 2, 3], [[5, 6]] * 4, [9, 9, 9, 9]):
        got, grads = run(_samples(poison))
        for k in clean:
            assert torch.equal(got[k], clean[k]), k
        for k in clean_grads:
            assert torch.equal(grads[k], clean_grads[k]), k


def test_short_training_run_through_the_runner(shared_data, tmp_path):
    """MNIST -> USPS METAH config, 4 iterations on small subsets: both
    ramp hooks, the classifier head and the metric work together."""
    from mmengine.runner import Runner

    from transfer_helpers import tiny_mnist2usps_cfg
    cfg = tiny_mnist2usps_cfg(CONFIG, shared_data, str(tmp_path))
    # the hooks' horizon=None spans the run: 4 iterations here
    runner = Runner.from_cfg(cfg)
    runner.train()
    ramp = 2 / (1 + torch.exp(torch.tensor(-10 * 3 / 4)).item()) - 1
    heads = runner.model.transfer_heads
    assert heads.semantic.ent_ramp == pytest.approx(ramp)  # set at iter 3
    assert heads.domain.grl.coeff == pytest.approx(ramp)
    logged = runner.message_hub.log_scalars
    assert {'train/loss_cls', 'train/loss_ent', 'train/ent_ramp'} <= set(
        logged)
    metrics = runner.test()
    assert 0 <= metrics['hashing/MAP@H<=2'] <= 1
    assert 0 < metrics['hashing/mAP@all'] <= 1
