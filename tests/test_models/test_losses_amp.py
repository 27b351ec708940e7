"""Every loss runs in float32 under AMP: finite, and equal to fp32.

Under ``--amp`` the network's outputs (codes, logits) come as bfloat16
(CPU autocast) or float16 (CUDA AMP). Each loss must compute in float32
whatever it is given, so the checks here compare the loss of half-
precision codes with the float32 loss **of the same, rounded codes**:
the rounding of the network's outputs is AMP's doing, not the loss's, so
what the loss itself adds must be nothing (value to 1e-6; gradients to
one half-precision ulp, since the gradient wrt a half-precision tensor is
itself rounded to that precision on its way back through the cast).

Three paths per loss: (a) float32 reference; (b) codes produced by a bf16
Linear inside ``torch.autocast('cpu', torch.bfloat16)`` and the loss
called inside autocast, as in a training step; (c) bf16 and fp16 code
tensors given directly, outside autocast (CPU has fp16 kernels for these
ops; the loss must cast them up anyway).
"""
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from hashplugins.models.gans.gan_utils import adversarial_loss
from hashplugins.models.gans.hashing_gan import HashingGAN
from hashplugins.models.losses import (class_response_entropy,
                                       code_classification_loss,
                                       max_entropy_loss)
from hashplugins.models.utils import label_similarity

N, K, M, C, D = 8, 16, 24, 5, 32  # batch, bits, other side, classes, in
HALF_DTYPES = (torch.bfloat16, torch.float16)

def _multihot(num, gen):
    """Multi-hot labels with 1-2 classes per row (rows 0/1 share class 0,
    so the batch always holds a positive pair)."""
    labels = torch.zeros(num, C)
    for i in range(num):
        picks = torch.randperm(C, generator=gen)[:1 + i % 2]
        labels[i, picks] = 1.
    labels[:2, 0] = 1.
    return labels


def _activate(pre, kind):
    if kind == 'tanh':
        return torch.tanh(pre)
    if kind == 'sigmoid':
        return torch.sigmoid(pre)
    return pre  # raw features / logits


@dataclass
class Case:
    """A loss computation as a function of the network's output alone.

    Attributes:
        name (str): Test id.
        covers (str): The registered loss (or function) this exercises.
        kind (str): ``'tanh'``, ``'sigmoid'`` or ``'identity'``: the
            activation on the Linear output (codes, raw features, logits).
        width (int): Output width (bits, classes, or 1 for D logits).
        build (Callable): ``gen -> (codes -> scalar loss)``; fixed inputs
            (labels, targets, buffers) are drawn from ``gen`` in float32,
            as the models hold them.
    """
    name: str
    covers: str
    kind: str
    width: int
    build: Callable


def _module(cfg, *args_of_gen, **kwargs):
    """A loss built from ``cfg`` called as ``loss(codes, *extra)``, the
    extra fixed inputs made by ``args_of_gen(gen)``."""

    def build(gen):
        loss = MODELS.build(cfg)
        extra = [make(gen) for make in args_of_gen]
        return lambda codes: loss(codes, *extra, **kwargs)

    return build


def _labels(gen):
    return _multihot(N, gen)


def _seeded(build):
    """A loss that draws (sampled triplets): the same draws every call."""

    def seeded(gen):
        loss = build(gen)

        def call(codes):
            torch.manual_seed(0)
            return loss(codes)

        return call

    return seeded


def _pair_similarity(gen):
    return label_similarity(_multihot(N, gen), _multihot(M, gen))


def _tanh_targets(gen):
    # DADH: tanh of the other stream's float32 output buffer
    return torch.tanh(torch.randn(M, K, generator=gen) * 3)


def _binary_codes(num):

    def make(gen):
        return torch.randn(num, K, generator=gen).sign()

    return make


def _offset(gen):
    # the buffered sum of the other N - n rows of raw outputs: large
    return torch.randn(M, K, generator=gen).mul(3).sum(0)


def _class_indices(gen):
    return torch.randint(C, (N, ), generator=gen)


def _gan_cls_loss(gen):
    labels = _class_indices(gen)
    gan = SimpleNamespace(cls_loss_weight=0.7)
    return lambda logits: HashingGAN._cls_loss(gan, logits, labels)


def _domain_loss(gen):
    # imported here so the other cases still run where it is missing
    from hashplugins.models.heads.domain_discriminator import domain_loss
    domains = (torch.arange(N) >= N // 2).float()
    return lambda logits: domain_loss(logits[:, 0], domains)


def _code_classification(multi_label):

    def build(gen):
        if multi_label:
            labels = _multihot(N, gen)
        else:
            labels = F.one_hot(_class_indices(gen), C).float()
        return lambda logits: code_classification_loss(
            logits, labels, multi_label)

    return build


def _adversarial(target_real, kind, for_generator=False):

    def build(gen):
        return lambda logits: adversarial_loss(logits[:, 0], target_real,
                                               kind, for_generator)

    return build


CASES = [
    Case('pairwise_logistic', 'PairwiseLogisticLoss', 'tanh', K,
         _module(dict(type='PairwiseLogisticLoss'), _labels)),
    Case('pairwise_logistic_no_self', 'PairwiseLogisticLoss', 'tanh', K,
         _module(dict(type='PairwiseLogisticLoss', include_self_pairs=False,
                      scale=1.), _labels)),
    Case('quantization_l2', 'HashQuantizationLoss', 'tanh', K,
         _module(dict(type='HashQuantizationLoss', mode='l2'))),
    Case('quantization_logcosh', 'HashQuantizationLoss', 'tanh', K,
         _module(dict(type='HashQuantizationLoss', mode='logcosh'))),
    # GreedyHash: on the linear hash layer's unbounded output
    Case('quantization_cubic', 'HashQuantizationLoss', 'identity', K,
         _module(dict(type='HashQuantizationLoss', mode='cubic'))),
    Case('t_distribution', 'TDistributionPairwiseLoss', 'tanh', K,
         _module(dict(type='TDistributionPairwiseLoss'), _labels)),
    Case('t_distribution_exact', 'TDistributionPairwiseLoss', 'tanh', K,
         _module(dict(type='TDistributionPairwiseLoss', threshold=None,
                      sim_numerator='bits'), _labels)),
    # HashNet: batch weights, the official fixed class_num, unweighted
    Case('weighted_pairwise_logistic', 'WeightedPairwiseLogisticLoss',
         'tanh', K, _module(dict(type='WeightedPairwiseLogisticLoss'),
                            _labels)),
    Case('weighted_pairwise_logistic_fixed', 'WeightedPairwiseLogisticLoss',
         'tanh', K, _module(dict(type='WeightedPairwiseLogisticLoss',
                                 pos_weight=5., scale=2.,
                                 include_self_pairs=True), _labels)),
    Case('weighted_pairwise_logistic_sum', 'WeightedPairwiseLogisticLoss',
         'tanh', K, _module(dict(type='WeightedPairwiseLogisticLoss',
                                 weighted=False, reduction='sum'), _labels)),
    # DSH: real-valued outputs (large, saturated rows), margin 2B
    Case('pairwise_contrastive', 'PairwiseContrastiveLoss', 'identity', K,
         _module(dict(type='PairwiseContrastiveLoss'), _labels)),
    Case('pairwise_contrastive_wide_margin', 'PairwiseContrastiveLoss',
         'identity', K, _module(dict(type='PairwiseContrastiveLoss',
                                     margin=2000., reg_weight=0.5),
                                _labels)),
    # DCH: paper form, the authors' Euclidean form, DeepHash-pytorch's clamp
    Case('cauchy_cross_entropy', 'CauchyCrossEntropyLoss', 'tanh', K,
         _module(dict(type='CauchyCrossEntropyLoss'), _labels)),
    Case('cauchy_cross_entropy_euclidean', 'CauchyCrossEntropyLoss', 'tanh',
         K, _module(dict(type='CauchyCrossEntropyLoss',
                         distance='squared_euclidean',
                         pair_weighting='official'), _labels)),
    Case('cauchy_cross_entropy_clamped', 'CauchyCrossEntropyLoss',
         'identity', K,
         _module(dict(type='CauchyCrossEntropyLoss', eps=0., max_cos=0.99,
                      include_self_pairs=True), _labels)),
    Case('cauchy_quantization', 'CauchyQuantizationLoss', 'tanh', K,
         _module(dict(type='CauchyQuantizationLoss', loss_weight=0.1))),
    # CSQ: Hadamard centres (C = 5 <= 2K) and random ones (K = 16 < C / 2)
    Case('central_similarity', 'CentralSimilarityLoss', 'tanh', K,
         _module(dict(type='CentralSimilarityLoss', num_classes=C,
                      num_bits=K), _labels)),
    Case('central_similarity_random', 'CentralSimilarityLoss', 'tanh', K,
         _module(dict(type='CentralSimilarityLoss', num_classes=C,
                      num_bits=K, center_mode='random'), _labels)),
    Case('asym_logistic', 'AsymmetricPairwiseLogisticLoss', 'tanh', K,
         _module(dict(type='AsymmetricPairwiseLogisticLoss',
                      loss_weight=10.), _tanh_targets, _pair_similarity)),
    Case('asym_logistic_vs_codes', 'AsymmetricPairwiseLogisticLoss', 'tanh',
         K, _module(dict(type='AsymmetricPairwiseLogisticLoss'),
                    _binary_codes(M), _pair_similarity)),
    Case('asym_inner_product', 'AsymmetricInnerProductLoss', 'tanh', K,
         _module(dict(type='AsymmetricInnerProductLoss'), _binary_codes(M),
                 _pair_similarity)),
    Case('asym_inner_product_balanced', 'AsymmetricInnerProductLoss', 'tanh',
         K, _module(dict(type='AsymmetricInnerProductLoss',
                         similarity='balanced'), _binary_codes(M),
                    _pair_similarity)),
    Case('bit_balance', 'BitBalanceLoss', 'identity', K,
         _module(dict(type='BitBalanceLoss', loss_weight=10.), _offset,
                 avg_factor=N * (N + M))),
    Case('bit_balance_in_batch', 'BitBalanceLoss', 'tanh', K,
         _module(dict(type='BitBalanceLoss'), avg_factor=N * N)),
    Case('feature_code_gap', 'FeatureCodeGapLoss', 'identity', K,
         _module(dict(type='FeatureCodeGapLoss', loss_weight=100.),
                 _binary_codes(N), avg_factor=N * (N + M))),
    Case('feature_code_gap_tanh', 'FeatureCodeGapLoss', 'tanh', K,
         _module(dict(type='FeatureCodeGapLoss'), _binary_codes(N))),
    Case('triplet_ranking', 'TripletRankingLoss', 'tanh', K,
         _module(dict(type='TripletRankingLoss', margin=2.), _labels)),
    Case('triplet_hinge', 'TripletHingeLoss', 'sigmoid', K,
         lambda gen: (lambda loss: lambda codes: loss(
             codes[:2], codes[2:4], codes[4:6]))(
                 MODELS.build(dict(type='TripletHingeLoss', margin=1.)))),
    Case('sampled_triplet', 'SampledTripletLoss', 'sigmoid', K,
         _seeded(_module(dict(type='SampledTripletLoss'), _labels))),
    Case('real_synthetic', 'RealSyntheticLoss', 'identity', 1,
         lambda gen: (lambda loss, real: lambda logits: loss(
             logits[:, 0], real, avg_factor=3))(
                 MODELS.build(dict(type='RealSyntheticLoss',
                                   loss_weight=-1.)),
                 (torch.arange(N) < 2).float())),
    Case('multi_hot_classification', 'MultiHotClassificationLoss',
         'identity', C,
         _module(dict(type='MultiHotClassificationLoss'), _labels)),
    Case('multi_hot_classification_multi', 'MultiHotClassificationLoss',
         'identity', C,
         _module(dict(type='MultiHotClassificationLoss', multi_label=True),
                 _labels)),
    *[
        Case(f'max_entropy_{mode}_{code_range}', 'MaxEntropyLoss',
             code_range, K,
             _module(dict(type='MaxEntropyLoss', mode=mode,
                          code_range=code_range, loss_weight=0.5)))
        for mode in ('uniform_ce', 'neg_entropy')
        for code_range in ('tanh', 'sigmoid')
    ],
    # the head losses' formulas (the heads themselves: see below)
    Case('code_classification', 'code_classification_loss', 'identity', C,
         _code_classification(False)),
    Case('code_classification_multi', 'code_classification_loss',
         'identity', C, _code_classification(True)),
    Case('class_response_entropy', 'class_response_entropy', 'identity', C,
         lambda gen: lambda logits: class_response_entropy(logits)),
    Case('class_response_entropy_multi', 'class_response_entropy',
         'identity', C,
         lambda gen: lambda logits: class_response_entropy(logits, True)),
    Case('domain_loss', 'DomainDiscriminator', 'identity', 1, _domain_loss),
    Case('gan_cls_loss', 'HashingGAN._cls_loss', 'identity', C,
         _gan_cls_loss),
    *[
        Case(f'adversarial_{kind}_{"real" if real else "fake"}'
             f'{"_gen" if gen_form else ""}', 'adversarial_loss', 'identity',
             1, _adversarial(real, kind, gen_form))
        for kind in ('vanilla', 'hinge')
        for real, gen_form in ((True, False), (False, False), (True, True))
    ],
]


def _params(cases):
    """Cases as pytest params, named."""
    return [pytest.param(c, id=c.name) for c in cases]


def _linear(width, gen):
    """A Linear layer giving realistic outputs: std ~3, and the first
    quarter of the units saturated (|pre| ~ 10-20), as a trained
    network's codes are."""
    lin = torch.nn.Linear(D, width)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(width, D, generator=gen) * 0.5)
        bias = torch.zeros(width)
        saturated = max(1, width // 4)
        bias[:saturated] = 12. * torch.randn(saturated, generator=gen).sign()
        lin.bias.copy_(bias)
    return lin


def _inputs(case, seed=0):
    gen = torch.Generator().manual_seed(seed)
    lin = _linear(case.width, gen)
    x = torch.randn(N, D, generator=gen)
    return lin, x, case.build(gen)


def _reference(loss_fn, codes):
    """float32 loss and gradient of the (rounded) codes, no autocast."""
    codes = codes.detach().float().requires_grad_()
    value = loss_fn(codes)
    grad, = torch.autograd.grad(value, codes)
    return value.detach(), grad


def _assert_matches(value, grad, ref_value, ref_grad, dtype):
    assert value.dtype == torch.float32, 'the loss must come out in float32'
    assert torch.isfinite(value), f'loss is {value}'
    assert torch.isfinite(grad).all(), 'non-finite gradient'
    torch.testing.assert_close(value.detach(), ref_value, rtol=1e-6,
                               atol=1e-7)
    # the gradient wrt half codes is the float32 one rounded to the half
    # precision: allow one ulp of it
    eps = torch.finfo(dtype).eps
    scale = float(ref_grad.abs().max()) + 1e-12
    torch.testing.assert_close(grad.float(), ref_grad.to(dtype).float(),
                               rtol=eps, atol=eps * scale * 1e-2)


@pytest.mark.parametrize('case', _params(CASES))
def test_loss_under_bf16_autocast(case):
    lin, x, loss_fn = _inputs(case)
    with torch.autocast('cpu', torch.bfloat16):
        codes = _activate(lin(x), case.kind)
        assert codes.dtype == torch.bfloat16  # what AMP gives the loss
        value = loss_fn(codes)
    grad, w_grad = torch.autograd.grad(value, (codes, lin.weight))
    assert torch.isfinite(w_grad).all()
    ref_value, ref_grad = _reference(loss_fn, codes)
    _assert_matches(value, grad, ref_value, ref_grad, torch.bfloat16)


@pytest.mark.parametrize('dtype', HALF_DTYPES, ids=str)
@pytest.mark.parametrize('case', _params(CASES))
def test_loss_of_half_precision_codes(case, dtype):
    lin, x, loss_fn = _inputs(case)
    with torch.no_grad():
        codes = _activate(lin(x), case.kind).to(dtype)
    codes.requires_grad_()
    value = loss_fn(codes)
    grad, = torch.autograd.grad(value, codes)
    ref_value, ref_grad = _reference(loss_fn, codes)
    _assert_matches(value, grad, ref_value, ref_grad, dtype)


@pytest.mark.parametrize('case', _params(CASES))
def test_float32_is_untouched(case):
    """Outside autocast, float32 codes give float32 losses (the cast and
    the autocast switch are no-ops: existing numbers are unchanged)."""
    lin, x, loss_fn = _inputs(case)
    codes = _activate(lin(x), case.kind)
    value = loss_fn(codes)
    assert value.dtype == torch.float32 and torch.isfinite(value)


def test_triplet_ranking_loss_finite_under_amp():
    """Finite, with a finite gradient, under bf16 autocast."""
    case = next(c for c in CASES if c.covers == 'TripletRankingLoss')
    lin, x, loss_fn = _inputs(case)
    with torch.autocast('cpu', torch.bfloat16):
        codes = _activate(lin(x), case.kind)
        value = loss_fn(codes)
    grad, = torch.autograd.grad(value, codes)
    assert torch.isfinite(value) and torch.isfinite(grad).all()


# ----------------------------------------------------------------------
# Heads with their own losses, through their ``loss`` methods. The head
# network (GRL + MLP, classifier) runs under autocast as any layer does;
# its loss must be the float32 formula of the logits it produced.
def _head_codes(gen):
    lin = _linear(K, gen)
    x = torch.randn(2 * N, D, generator=gen)
    with torch.autocast('cpu', torch.bfloat16):
        codes = torch.tanh(lin(x))
    assert codes.dtype == torch.bfloat16
    return codes[:N], codes[N:]


def _autocast_logits(head, codes):
    with torch.autocast('cpu', torch.bfloat16):
        return head(codes)


def _check_head(losses, ref, source, target, loss_names):
    for name in loss_names:
        value = losses[name]
        assert value.dtype == torch.float32 and torch.isfinite(value), name
        torch.testing.assert_close(value.detach(), ref[name].detach(),
                                   rtol=1e-6, atol=1e-7)
        got = torch.autograd.grad(value, (source, target), retain_graph=True,
                                  allow_unused=True)
        want = torch.autograd.grad(ref[name], (source, target),
                                   retain_graph=True, allow_unused=True)
        for g, w in zip(got, want):
            assert (g is None) == (w is None), name
            if g is not None:
                assert torch.isfinite(g).all(), name
                # same bf16 head backward from the same float32 dlogits
                torch.testing.assert_close(g, w, rtol=0., atol=0.)


def test_domain_discriminator_loss_under_bf16_autocast():
    gen = torch.Generator().manual_seed(1)
    torch.manual_seed(1)
    head = MODELS.build(
        dict(type='DomainDiscriminator', in_channels=K,
             hidden_channels=(32, 32), dropout=0., grl_coeff=1.,
             init_std=(0.3, 0.3, 3.)))  # confident, saturated logits
    source, target = _head_codes(gen)
    source, target = (source.detach().requires_grad_(),
                      target.detach().requires_grad_())
    with torch.autocast('cpu', torch.bfloat16):
        losses = head.loss(source, target)
    logits = _autocast_logits(head, torch.cat([source, target]))
    assert logits.dtype == torch.bfloat16
    domains = (torch.arange(2 * N) >= N).float()
    ref = dict(loss_domain=head.loss_weight *
               F.binary_cross_entropy_with_logits(logits.float(), domains))
    _check_head(losses, ref, source, target, ['loss_domain'])


@pytest.mark.parametrize('multi_label', [False, True])
def test_code_classifier_head_loss_under_bf16_autocast(multi_label):
    gen = torch.Generator().manual_seed(2)
    torch.manual_seed(2)
    head = MODELS.build(
        dict(type='CodeClassifierHead', in_channels=K, num_classes=C,
             multi_label=multi_label, ent_weight=0.1, ent_ramp=0.5,
             init_cfg=dict(type='Normal', layer='Linear', std=2.)))
    head.init_weights()
    source, target = _head_codes(gen)
    source, target = (source.detach().requires_grad_(),
                      target.detach().requires_grad_())
    if multi_label:
        labels = _multihot(N, gen)
        samples = [
            DataSample().set_gt_label(row.nonzero()[:, 0].tolist())
            for row in labels
        ]
    else:
        indices = _class_indices(gen)
        labels = F.one_hot(indices, C).float()
        samples = [DataSample().set_gt_label(int(i)) for i in indices]
    with torch.autocast('cpu', torch.bfloat16):
        losses = head.loss(source, target, samples)
    src_logits = _autocast_logits(head, source).float()
    tgt_logits = _autocast_logits(head, target).float()
    if multi_label:
        cls = F.binary_cross_entropy_with_logits(src_logits, labels)
        p = torch.sigmoid(tgt_logits)
        ent = -(F.logsigmoid(tgt_logits) * p +
                F.logsigmoid(-tgt_logits) * (1 - p)).sum(1).mean()
    else:
        cls = F.cross_entropy(src_logits, labels.argmax(1))
        log_p = F.log_softmax(tgt_logits, 1)
        ent = -(log_p.exp() * log_p).sum(1).mean()
    ref = dict(loss_cls=head.cls_weight * cls,
               loss_ent=head.ent_weight * head.ent_ramp * ent)
    _check_head(losses, ref, source, target, ['loss_cls', 'loss_ent'])


def test_greedy_hash_head_loss_under_bf16_autocast():
    """Hash layer, sign layer and classifier run in bf16 under autocast;
    the CE of their logits and the cubic penalty of h come in float32."""
    torch.manual_seed(3)
    head = MODELS.build(
        dict(type='GreedyHashHead', in_channels=D, num_bits=K, num_classes=C,
             losses=dict(penalty=dict(type='HashQuantizationLoss',
                                      mode='cubic', loss_weight=0.1)),
             init_cfg=dict(type='Normal', layer='Linear', std=0.5)))
    head.init_weights()
    gen = torch.Generator().manual_seed(3)
    feats = torch.randn(N, D, generator=gen).requires_grad_()
    indices = _class_indices(gen)
    samples = [DataSample().set_gt_label(int(i)) for i in indices]
    with torch.autocast('cpu', torch.bfloat16):
        losses = head.loss(feats, samples)
        codes = head(feats)
        logits = head.classify(codes)
    assert codes.dtype == logits.dtype == torch.bfloat16
    ref = dict(
        loss_cls=F.cross_entropy(logits.float(), indices),
        loss_penalty=0.1 * (codes.float().abs() - 1).abs().pow(3).mean())
    for name, want in ref.items():
        value = losses[name]
        assert value.dtype == torch.float32 and torch.isfinite(value), name
        torch.testing.assert_close(value.detach(), want.detach(), rtol=1e-6,
                                   atol=1e-7)
        got = torch.autograd.grad(value, (feats, head.fc_cls.weight),
                                  retain_graph=True, allow_unused=True)
        exp = torch.autograd.grad(want, (feats, head.fc_cls.weight),
                                  retain_graph=True, allow_unused=True)
        for g, w in zip(got, exp):
            assert (g is None) == (w is None), name
            if g is not None:
                assert torch.isfinite(g).all(), name
                torch.testing.assert_close(g, w)


HEAD_TESTS = {
    'DomainDiscriminator':
    test_domain_discriminator_loss_under_bf16_autocast,
    'GreedyHashHead': test_greedy_hash_head_loss_under_bf16_autocast,
    'CodeClassifierHead': test_code_classifier_head_loss_under_bf16_autocast,
}


# ----------------------------------------------------------------------
def test_every_registered_loss_is_covered():
    """A new loss registered under hashplugins/models/losses must get a
    case here."""
    registered = {
        name
        for name, cls in MODELS.module_dict.items()
        if cls.__module__.startswith('hashplugins.models.losses')
    }
    assert registered, 'no loss found in the registry: import changed?'
    covered = {case.covers for case in CASES}
    missing = registered - covered
    assert not missing, (f'losses without an AMP case in {__file__}: '
                         f'{sorted(missing)}')
    # every registered module with a ``loss`` of its own (heads) too
    heads = {
        name
        for name, cls in MODELS.module_dict.items()
        if cls.__module__.startswith('hashplugins.models.heads')
        and name != 'HashHead'  # its losses are the configured ones
    }
    assert heads <= set(HEAD_TESTS), sorted(heads - set(HEAD_TESTS))


# ----------------------------------------------------------------------
# The measured bug: ganreg stage 2 went to inf under --amp.
@pytest.mark.parametrize('mode', ['uniform_ce', 'neg_entropy'])
def test_max_entropy_finite_on_saturated_bf16_codes(mode):
    """tanh codes that are exactly +-1 in bf16 (a saturated hash layer
    under autocast) gave log(1 - p) = log(0): the clamp at 1 - 1e-6 rounds
    to 1 in bf16."""
    lin = torch.nn.Linear(D, K)
    x = torch.randn(N, D, generator=torch.Generator().manual_seed(3)) * 10
    loss = MODELS.build(dict(type='MaxEntropyLoss', mode=mode))
    with torch.autocast('cpu', torch.bfloat16):
        codes = torch.tanh(lin(x))
        assert codes.dtype == torch.bfloat16
        assert (codes.abs() == 1).float().mean() > 0.5  # mostly saturated
        value = loss(codes)
    grad, = torch.autograd.grad(value, lin.weight)
    assert torch.isfinite(value), f'MaxEntropyLoss is {value} under AMP'
    assert torch.isfinite(grad).all()
    torch.testing.assert_close(value.detach(),
                               loss(codes.detach().float()), rtol=1e-6,
                               atol=0.)


@pytest.mark.parametrize('mode', ['uniform_ce', 'neg_entropy'])
@pytest.mark.parametrize('code_range', ['tanh', 'sigmoid'])
def test_max_entropy_tiny_eps_stays_finite(mode, code_range):
    """An eps below float32's resolution at 1 (1 - 1e-9 == 1) still keeps
    both logs finite on fully saturated float32 codes."""
    low = -1. if code_range == 'tanh' else 0.
    codes = torch.tensor([[1., low, 1., low]], requires_grad=True)
    value = max_entropy_loss(codes, mode, code_range, eps=1e-9)
    grad, = torch.autograd.grad(value, codes)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    log_eps = torch.tensor(1e-9).log()
    # every bit is saturated: one log is log(1) = 0, the other log(eps)
    want = -0.5 * log_eps if mode == 'uniform_ce' else 1e-9 * log_eps
    torch.testing.assert_close(value.detach(), want, rtol=1e-5, atol=1e-12)
