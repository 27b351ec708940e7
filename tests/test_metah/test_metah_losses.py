"""METAH's classifier-on-codes head: the min-entropy term equals a direct
computation and sees only target codes; the classification term reads only
source labels; the two terms switch off separately; the entropy ramp."""
import math
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmpretrain.registry import HOOKS, MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from hashplugins.models.losses import (class_response_entropy,
                                       code_classification_loss)

torch.set_num_threads(1)


def _head(multi_label=False, **kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(type='CodeClassifierHead', in_channels=8,
                             num_classes=4, multi_label=multi_label,
                             init_cfg=None, **kwargs))


def _source(labels):
    return [DataSample(metainfo=dict(domain=0)).set_gt_label(y)
            for y in labels]


def test_entropy_equals_direct_computation():
    logits = torch.randn(5, 4, dtype=torch.float64) * 3
    direct = 0.
    for row in logits.tolist():
        z = [math.exp(v) for v in row]
        p = [v / sum(z) for v in z]
        direct -= sum(q * math.log(q) for q in p)
    assert class_response_entropy(logits).item() == pytest.approx(
        direct / 5, rel=1e-12)
    direct = 0.
    for row in logits.tolist():
        for v in row:
            q = 1 / (1 + math.exp(-v))
            direct -= q * math.log(q) + (1 - q) * math.log(1 - q)
    assert class_response_entropy(logits, multi_label=True).item() == \
        pytest.approx(direct / 5, rel=1e-12)
    # bounds: log C at uniform responses, -> 0 when confident; empty -> 0
    assert class_response_entropy(torch.zeros(3, 4)).item() == \
        pytest.approx(math.log(4))
    assert class_response_entropy(torch.tensor([[50., 0., 0., 0.]])) < 1e-15
    assert class_response_entropy(torch.zeros(0, 4)).item() == 0.


def test_classification_loss_equals_direct_computation():
    logits = torch.randn(3, 4, dtype=torch.float64)
    onehot = torch.eye(4, dtype=torch.float64)[[2, 0, 3]]
    direct = -sum(math.log(math.exp(logits[i, y]) /
                           logits[i].exp().sum().item())
                  for i, y in enumerate((2, 0, 3))) / 3
    assert code_classification_loss(logits, onehot).item() == pytest.approx(
        direct, rel=1e-12)
    multihot = torch.tensor([[1., 0, 1, 0], [0, 1, 0, 0], [1, 1, 1, 0]],
                            dtype=torch.float64)
    direct = 0.
    for i in range(3):
        for c in range(4):
            q = 1 / (1 + math.exp(-logits[i, c].item()))
            y = multihot[i, c].item()
            direct -= y * math.log(q) + (1 - y) * math.log(1 - q)
    assert code_classification_loss(logits, multihot, True).item() == \
        pytest.approx(direct / 12, rel=1e-12)
    with pytest.raises(ValueError, match='multi_label'):
        code_classification_loss(logits, multihot)


@pytest.mark.parametrize('multi_label', [False, True])
def test_entropy_term_reads_only_target_codes(multi_label):
    head = _head(multi_label, cls_weight=0., ent_weight=0.5)
    head.ent_ramp = 0.3
    src = torch.randn(3, 8, requires_grad=True)
    tgt = torch.randn(5, 8, requires_grad=True)
    out = head.loss(src, tgt, _source([0, 1, 2]))
    assert set(out) == {'loss_ent'}
    with torch.no_grad():
        direct = class_response_entropy(head.layers(tgt), multi_label)
    assert out['loss_ent'].item() == pytest.approx(
        0.5 * 0.3 * direct.item(), rel=1e-6)
    out['loss_ent'].backward()
    assert src.grad is None  # not in the graph at all
    assert tgt.grad.abs().sum() > 0
    assert head.layers.fc_out.weight.grad.abs().sum() > 0  # shared weights
    # other source codes and labels do not change it
    other = head.loss(torch.randn(7, 8), tgt, _source([3] * 7))
    assert torch.equal(other['loss_ent'], out['loss_ent'])


def test_classification_term_reads_only_source_labels():
    head = _head(cls_weight=2., ent_weight=0.)
    src = torch.randn(4, 8, requires_grad=True)
    tgt = torch.randn(4, 8, requires_grad=True)
    samples = _source([0, 1, 2, 3])
    out = head.loss(src, tgt, samples)
    assert set(out) == {'loss_cls', 'cls_acc'}
    with torch.no_grad():
        direct = code_classification_loss(head.layers(src), torch.eye(4))
    assert out['loss_cls'].item() == pytest.approx(
        2 * direct.item(), rel=1e-6)
    out['loss_cls'].backward()
    assert tgt.grad is None and src.grad.abs().sum() > 0
    # other target codes do not change it; the head never receives target
    # samples (TransferHasher passes only source samples), and a poisoned
    # target batch through the whole model changes nothing: see
    # test_metah_model.py.
    again = head.loss(src, torch.randn(9, 8), samples)
    assert torch.equal(again['loss_cls'], out['loss_cls'])
    changed = head.loss(src, tgt, _source([1, 1, 2, 3]))
    assert not torch.equal(changed['loss_cls'], out['loss_cls'])


def test_terms_switch_off_and_hidden_layer():
    both = _head()
    assert (both.cls_weight, both.ent_weight) == (1.0, 0.1)
    out = both.loss(torch.randn(2, 8), torch.randn(2, 8), _source([0, 1]))
    assert set(out) == {'loss_cls', 'cls_acc', 'loss_ent'}
    assert set(_head(ent_weight=None).loss(
        torch.randn(2, 8), torch.randn(2, 8), _source([0, 1]))) == {
            'loss_cls', 'cls_acc'}
    with pytest.raises(ValueError, match='both 0'):
        _head(cls_weight=0., ent_weight=0.)
    deep = _head(hidden_channels=(16, ), dropout=0.5)
    assert [type(m).__name__ for m in deep.layers] == [
        'Linear', 'ReLU', 'Dropout', 'Linear']
    assert deep(torch.randn(3, 8)).shape == (3, 4)
    with pytest.raises(ValueError, match='in_channels=8'):
        deep(torch.randn(3, 16))


def test_entropy_ramp_follows_formula_and_sets_the_head():
    model = MODELS.build(dict(
        type='TransferHasher', backbone=dict(type='LeNet5'),
        head=dict(type='HashHead', in_channels=120, num_bits=8,
                  num_classes=4),
        transfer_heads=dict(semantic=dict(
            type='CodeClassifierHead', in_channels=8, num_classes=4))))
    hook = HOOKS.build(dict(type='RampScheduleHook',
                            module='transfer_heads.semantic',
                            attribute='ent_ramp', alpha=5., horizon=200,
                            low=0.1, high=0.6))
    hub = MessageHub.get_instance('test_metah_ramp')
    runner = SimpleNamespace(model=model, iter=0, message_hub=hub)
    hook.before_train(runner)
    assert model.transfer_heads.semantic.ent_ramp == pytest.approx(0.1)
    for it in (0, 1, 50, 100, 199, 200, 1000):
        runner.iter = it
        hook.before_train_iter(runner, batch_idx=it)
        p = min(1., it / 200)
        expected = 2 * .5 / (1 + math.exp(-5. * p)) - .5 + .1
        assert hook.coeff_at(it) == pytest.approx(expected, abs=1e-15)
        assert model.transfer_heads.semantic.ent_ramp == pytest.approx(
            expected, abs=1e-15)
        assert hub.get_scalar('train/ent_ramp').current() == pytest.approx(
            expected)
    for bad in (dict(module='transfer_heads.nothing', attribute='ent_ramp'),
                dict(module='transfer_heads.semantic', attribute='typo')):
        with pytest.raises(ValueError, match='no'):
            HOOKS.build(dict(type='RampScheduleHook', **bad)).before_train(
                runner)


def test_heads_take_code_length_and_classes_from_the_hash_head():
    """Transfer heads that take in_channels / num_classes get the hash
    head's values when their config leaves them out; explicit values are
    still checked against it."""
    def build(**semantic):
        return MODELS.build(dict(
            type='TransferHasher', backbone=dict(type='LeNet5'),
            head=dict(type='HashHead', in_channels=120, num_bits=12,
                      num_classes=5),
            transfer_heads=dict(
                domain=dict(type='DomainDiscriminator',
                            hidden_channels=(8, ), init_std=(0.01, 0.3)),
                semantic=dict(type='CodeClassifierHead', **semantic))))
    heads = build().transfer_heads
    assert heads.semantic.in_channels == heads.domain.in_channels == 12
    assert heads.semantic.num_classes == 5
    with pytest.raises(ValueError, match='in_channels=8'):
        build(in_channels=8)


def test_ramp_without_horizon_spans_the_run():
    model = MODELS.build(dict(
        type='TransferHasher', backbone=dict(type='LeNet5'),
        head=dict(type='HashHead', in_channels=120, num_bits=8,
                  num_classes=4),
        transfer_heads=dict(semantic=dict(type='CodeClassifierHead'))))
    hook = HOOKS.build(dict(type='RampScheduleHook',
                            module='transfer_heads.semantic',
                            attribute='ent_ramp', horizon=None))
    with pytest.raises(RuntimeError, match='horizon=None'):
        hook.coeff_at(0)
    runner = SimpleNamespace(model=model, iter=0, max_iters=300,
                             message_hub=MessageHub.get_instance('t_ramp'))
    hook.before_train(runner)
    assert hook.horizon == 300
    assert hook.coeff_at(150) == pytest.approx(
        2 / (1 + math.exp(-10. * 0.5)) - 1)
