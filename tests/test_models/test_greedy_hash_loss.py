"""GreedyHash: the sign layer with straight-through gradient, the cubic
penalty and the classifier-on-binary-codes head, each against a direct
re-computation written from the formulas (Su et al., NeurIPS 2018)."""
import math

import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from hashplugins.models.losses import HashQuantizationLoss, quantization_loss
from hashplugins.models.utils.straight_through_sign import \
    straight_through_sign

C, K, FEAT = 4, 6, 5


# ---------------------------------------------------------------- sign layer
def test_sign_forward_is_sign_with_zero_to_plus_one():
    h = torch.tensor([[-2.5, -1e-30, 0.0, -0.0, 1e-30, 3.0]],
                     dtype=torch.float64)
    b = straight_through_sign(h)
    # torch.sign (the authors' layer) would give 0 for both zeros
    assert b.tolist() == [[-1., -1., 1., 1., 1., 1.]]
    assert b.dtype == h.dtype


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16,
                                   torch.float16], ids=str)
def test_sign_keeps_dtype(dtype):
    b = straight_through_sign(torch.randn(3, 4).to(dtype))
    assert b.dtype == dtype and set(b.unique().tolist()) <= {-1., 1.}


def test_sign_backward_is_identity():
    g = torch.Generator().manual_seed(0)
    # zeros and large magnitudes too: no clipping at |h| <= 1
    h = torch.tensor([0., -0., 5., -7., 0.3, -1e-3], dtype=torch.float64,
                     requires_grad=True)
    upstream = torch.randn(6, generator=g, dtype=torch.float64)
    straight_through_sign(h).backward(upstream)
    assert torch.equal(h.grad, upstream)


def test_sign_rejects_integer_input():
    with pytest.raises(ValueError, match='floating'):
        straight_through_sign(torch.tensor([1, -2]))


# ------------------------------------------------------------- cubic penalty
def _direct_cubic(codes):
    total = 0.
    for row in codes.tolist():
        for h in row:
            total += abs(abs(h) - 1.)**3
    return total / codes.numel()


def test_cubic_penalty_matches_direct_and_gradient():
    codes = torch.tensor([[0.3, -0.99, 0.0, 1.0], [-2.0, 1.7, -1.0, 0.5]],
                         dtype=torch.float64, requires_grad=True)
    loss = HashQuantizationLoss(mode='cubic', loss_weight=0.1)(codes)
    assert float(loss.detach()) == pytest.approx(
        0.1 * _direct_cubic(codes.detach()), rel=1e-12)
    loss.backward()
    # d/dh ||h| - 1|^3 = 3 (|h| - 1)^2 sgn(|h| - 1) sgn(h), mean over 8;
    # 0 at |h| = 1 and (torch's |.|' at 0) at h = 0
    expected = []
    for h in codes.detach().view(-1).tolist():
        d = abs(h) - 1
        expected.append(0.1 * 3 * d * d * math.copysign(1, d) *
                        (0. if h == 0 else math.copysign(1, h)) / 8)
    assert torch.allclose(codes.grad.view(-1),
                          torch.tensor(expected, dtype=torch.float64),
                          rtol=1e-12, atol=1e-15)


def test_cubic_penalty_is_zero_on_binary_codes():
    codes = torch.tensor([[1., -1.], [-1., 1.]])
    assert float(quantization_loss(codes, 'cubic')) == 0.


def test_quantization_mode_error_names_cubic():
    with pytest.raises(ValueError, match="'cubic'"):
        HashQuantizationLoss(mode='cube')
    with pytest.raises(ValueError, match="'cubic'"):
        quantization_loss(torch.zeros(1, 2), 'cube')


# ---------------------------------------------------------------------- head
def _head(**kwargs):
    cfg = dict(type='GreedyHashHead', in_channels=FEAT, num_bits=K,
               num_classes=C,
               losses=dict(penalty=dict(type='HashQuantizationLoss',
                                        mode='cubic', loss_weight=0.1)))
    cfg.update(kwargs)
    torch.manual_seed(0)
    head = MODELS.build(cfg)
    head.init_weights()
    return head.double()


def _samples(labels):
    return [DataSample().set_gt_label(y) for y in labels]


def _feats(n=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, FEAT, generator=g, dtype=torch.float64)


def _sgn(x):
    return 1. if x >= 0 else -1.


def _direct_softmax_ce(head, h, targets):
    """Loops: logits_ic = sum_t W_ct sgn(h_it) (+ bias), CE against the
    target distribution q_i (a row of class weights)."""
    w = head.fc_cls.weight.detach().tolist()
    bias = (head.fc_cls.bias.detach().tolist()
            if head.fc_cls.bias is not None else [0.] * C)
    total = 0.
    for i, q in enumerate(targets):
        logits = [sum(w[c][t] * _sgn(h[i][t]) for t in range(K)) + bias[c]
                  for c in range(C)]
        top = max(logits)
        log_z = top + math.log(sum(math.exp(v - top) for v in logits))
        total += sum(-qc * (logits[c] - log_z) for c, qc in enumerate(q))
    return total / len(targets)


def test_head_classification_matches_direct():
    head = _head()
    feats = _feats()
    labels = [0, 3, 1, 1, 2, 0, 3]
    losses = head.loss(feats, _samples(labels))
    h = head(feats).detach().tolist()
    targets = [[1. if c == y else 0. for c in range(C)] for y in labels]
    assert float(losses['loss_cls'].detach()) == pytest.approx(
        _direct_softmax_ce(head, h, targets), rel=1e-12)
    assert float(losses['loss_penalty'].detach()) == pytest.approx(
        0.1 * _direct_cubic(head(feats).detach()), rel=1e-12)
    assert set(losses) == {'loss_cls', 'loss_penalty', 'cls_acc'}


def test_head_gradients_pass_straight_through_the_sign():
    """dL/dh = W^T (p - y) / N (the sign's derivative taken as 1) and
    dL/dW = (p - y)^T sgn(h) / N, computed by hand."""
    head = _head(losses=dict())
    feats = _feats()
    labels = [0, 3, 1, 1, 2, 0, 3]
    h = head(feats).detach().requires_grad_()
    loss = head.classification_losses(h, _samples(labels))['loss_cls']
    grad_h, grad_w = torch.autograd.grad(loss, (h, head.fc_cls.weight))
    w = head.fc_cls.weight.detach()
    n = len(labels)
    for i, y in enumerate(labels):
        b = [_sgn(v) for v in h[i].tolist()]
        logits = [sum(w[c, t].item() * b[t] for t in range(K))
                  for c in range(C)]
        z = sum(math.exp(v) for v in logits)
        err = [math.exp(v) / z - (c == y) for c, v in enumerate(logits)]
        for t in range(K):
            want = sum(w[c, t].item() * err[c] for c in range(C)) / n
            assert grad_h[i, t].item() == pytest.approx(want, rel=1e-10,
                                                        abs=1e-14)
    want_w = torch.zeros(C, K, dtype=torch.float64)
    for i, y in enumerate(labels):
        b = torch.where(h[i] >= 0, 1., -1.).double()
        p = torch.softmax(w @ b, 0)
        p[y] -= 1
        want_w += torch.outer(p, b) / n
    assert torch.allclose(grad_w, want_w, rtol=1e-10, atol=1e-14)


def test_head_trains_on_sign_of_zero_as_plus_one():
    head = _head(losses=dict())
    h = torch.zeros(2, K, dtype=torch.float64, requires_grad=True)
    logits = head.classify(h)
    all_plus = head.fc_cls.weight.detach().sum(1)
    assert torch.allclose(logits, all_plus.expand(2, C))


def test_head_multi_label_bce_matches_direct():
    head = _head(cls_loss=dict(type='MultiHotClassificationLoss',
                               multi_label=True))
    feats = _feats(4)
    labels = [[0, 2], [1], [3, 1, 0], [2]]
    losses = head.loss(feats, _samples(labels))
    assert 'cls_acc' not in losses  # no single class to be right about
    h = head(feats).detach().tolist()
    w = head.fc_cls.weight.detach().tolist()
    total = 0.
    for i, ys in enumerate(labels):
        for c in range(C):
            s = sum(w[c][t] * _sgn(h[i][t]) for t in range(K))
            y = 1. if c in ys else 0.
            total += -(y * math.log(1 / (1 + math.exp(-s))) +
                       (1 - y) * math.log(1 - 1 / (1 + math.exp(-s))))
    assert float(losses['loss_cls'].detach()) == pytest.approx(total / 4,
                                                               rel=1e-10)


@pytest.mark.parametrize('cls_target', ['multi_hot', 'first_label'])
def test_head_softmax_target_of_multi_label_rows(cls_target):
    head = _head(cls_target=cls_target, losses=dict())
    feats = _feats(3)
    labels = [[2, 0], [1], [3, 1]]
    losses = head.loss(feats, _samples(labels))
    h = head(feats).detach().tolist()
    if cls_target == 'multi_hot':  # y / |y|_1
        targets = [[0.5, 0, 0.5, 0], [0, 1., 0, 0], [0, 0.5, 0, 0.5]]
    else:  # DeepHash-pytorch's argmax: the lowest class index
        targets = [[1., 0, 0, 0], [0, 1., 0, 0], [0, 1., 0, 0]]
    assert float(losses['loss_cls'].detach()) == pytest.approx(
        _direct_softmax_ce(head, h, targets), rel=1e-12)


def test_head_classifier_bias_knob():
    assert _head().fc_cls.bias is None
    head = _head(cls_bias=True)
    with torch.no_grad():
        head.fc_cls.bias.copy_(torch.tensor([0.5, -1., 2., 0.]))
    feats = _feats(3)
    labels = [1, 2, 3]
    targets = [[1. if c == y else 0. for c in range(C)] for y in labels]
    losses = head.loss(feats, _samples(labels))
    assert float(losses['loss_cls'].detach()) == pytest.approx(
        _direct_softmax_ce(head, head(feats).detach().tolist(), targets),
        rel=1e-12)


def test_head_accuracy_is_of_the_binary_codes():
    head = _head(losses=dict())
    feats = _feats(8)
    labels = [0, 1, 2, 3, 0, 1, 2, 3]
    acc = head.loss(feats, _samples(labels))['cls_acc']
    b = torch.where(head(feats) >= 0, 1., -1.).double()
    pred = (b @ head.fc_cls.weight.detach().t()).argmax(1)
    want = sum(int(p) == y for p, y in zip(pred, labels)) / 8 * 100
    assert float(acc) == pytest.approx(want)


def test_head_predict_is_sign_of_linear_hash_layer():
    head = _head()
    assert head.activation == 'identity'
    with torch.no_grad():
        head.fc_hash.weight.zero_()
        head.fc_hash.bias.copy_(torch.tensor([0., -0.2, 3., -4., 0., 1e-9]))
    out = head.predict(_feats(2))
    for sample in out:
        assert sample.hash_code.tolist() == [1., -1., 1., -1., 1., 1.]
    # the continuous codes are unbounded (linear layer, no tanh)
    assert head(_feats(2))[0, 3].item() == -4.


def test_head_inits_classifier_as_pytorch_default():
    head = _head()
    bound = 1 / math.sqrt(K)
    w = head.fc_cls.weight
    assert w.abs().max() <= bound and w.abs().max() > 0.5 * bound
    assert head.fc_hash.weight.std().item() == pytest.approx(0.01, rel=0.5)


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_classes=None), 'num_classes'),
    (dict(num_classes=0), 'num_classes'),
    (dict(num_classes=True), 'num_classes'),
    (dict(activation='sigmoid'), 'activation'),
    (dict(cls_target='argmax'), 'cls_target'),
    (dict(cls_loss=None), 'cls_loss'),
    (dict(losses=dict(cls=dict(type='HashQuantizationLoss'))), "'cls'"),
])
def test_head_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _head(**kwargs)


def test_head_refuses_unlabelled_samples():
    head = _head()
    with pytest.raises(ValueError, match='needs a label'):
        head.loss(_feats(2), _samples([1, []]))


def test_head_refuses_out_of_range_label():
    head = _head()
    with pytest.raises(ValueError, match='num_classes=4'):
        head.loss(_feats(2), _samples([1, 4]))


# ------------------------------------------------------------------- configs
@pytest.mark.parametrize('name, bits, lr', [
    ('greedyhash_lenet5_mnist5k_16bit', 16, 0.01),
    ('greedyhash_r50_cifar10_48bit', 48, 0.001),
])
def test_configs_compose_greedyhash(name, bits, lr):
    cfg = Config.fromfile(f'configs/greedyhash/{name}.py')
    head = cfg.model.head
    assert head.type == 'GreedyHashHead' and head.num_bits == bits
    assert head.activation == 'identity'
    assert head.losses.penalty == dict(type='HashQuantizationLoss',
                                       mode='cubic', loss_weight=0.1)
    assert cfg.optim_wrapper.optimizer.lr == lr


def test_r50_config_has_authors_sgd_and_one_lr():
    cfg = Config.fromfile('configs/greedyhash/greedyhash_r50_cifar10_48bit.py')
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.momentum, opt.weight_decay) == ('SGD', 0.9, 5e-4)
    assert 'paramwise_cfg' not in cfg.optim_wrapper  # no head lr_mult
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.param_scheduler.milestones == [30]
    assert cfg.train_cfg.max_epochs == 50


def test_cpu_config_matches_dpsh_budget():
    ours = Config.fromfile(
        'configs/greedyhash/greedyhash_lenet5_mnist5k_16bit.py')
    dpsh = Config.fromfile('configs/dpsh/dpsh_lenet5_mnist5k_16bit.py')
    for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'data_preprocessor',
                'randomness'):
        assert ours[key] == dpsh[key], key
    assert ours.model.backbone == dpsh.model.backbone
