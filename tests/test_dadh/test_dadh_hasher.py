"""DualAsymmetricHasher: construction errors, the per-stream losses, the
alternation with one optimizer per stream, test-time coding, the B-step and
loading B/buffers into a fresh model."""
import pytest
import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import hashplugins  # noqa: F401
from hashplugins.models.utils import label_similarity

torch.set_num_threads(1)
K, N = 6, 12


def _stream(bits=K, activation='identity'):
    return dict(
        backbone=dict(type='LeNet5'),
        head=dict(type='HashHead', in_channels=120, num_bits=bits,
                  activation=activation))


# The options most tests below were written for (each still a knob); the
# defaults (joint streams, tanh gap, codes from f) and the zero B have their own
# tests.
LEGACY = dict(code_init='random', tanh_in_gap=False, alternation='epoch',
              query_code='sum', database_code='sum')


def _model(two=True, **kwargs):
    cfg = dict(type='DualAsymmetricHasher', stream_f=_stream(),
               stream_g=_stream() if two else None, num_classes=3)
    cfg.update(LEGACY if two else dict(LEGACY, query_code='f',
                                       database_code='f'))
    cfg.update(kwargs)
    model = MODELS.build(cfg)
    labels = torch.nn.functional.one_hot(torch.arange(N) % 3, 3).float()
    model.attach_training_set(labels, torch.arange(N) + 100)
    return model


def _batch(indices, split=None):
    g = torch.Generator().manual_seed(int(sum(indices)))
    samples = []
    for i in indices:
        s = DataSample(metainfo=dict(sample_idx=i, pool_index=i + 100))
        if split:
            s.set_metainfo(dict(split=split))
        samples.append(s.set_gt_label(i % 3))
    return dict(inputs=torch.rand(len(indices), 1, 32, 32, generator=g) * 255,
                data_samples=samples)


def _wrappers(model):
    return OptimWrapperDict(**{
        f'stream_{name}': OptimWrapper(
            torch.optim.SGD(stream.parameters(), lr=0.1))
        for name, stream in model.streams.items()
    })


def test_build_errors():
    with pytest.raises(ValueError, match='activation="identity"'):
        MODELS.build(dict(type='DualAsymmetricHasher',
                          stream_f=_stream(activation='tanh')))
    with pytest.raises(ValueError, match='stream_g has 8'):
        MODELS.build(dict(type='DualAsymmetricHasher', stream_f=_stream(),
                          stream_g=_stream(bits=8)))
    with pytest.raises(ValueError, match='query_code'):
        MODELS.build(dict(type='DualAsymmetricHasher', stream_f=_stream(),
                          query_code='g'))
    with pytest.raises(TypeError, match='code_loss must be'):
        MODELS.build(dict(type='DualAsymmetricHasher', stream_f=_stream(),
                          code_loss=dict(type='BitBalanceLoss')))


def test_attach_initialises_once_and_needs_a_training_set():
    model = _model()
    bank = model.code_bank
    assert bank.codes.shape == (N, K) and bank.outputs_g.shape == (N, K)
    assert set(bank.codes.unique().tolist()) == {-1., 1.}
    codes = bank.codes.clone()
    assert not model.attach_training_set(bank.train_labels.clone(),
                                         bank.train_ids.clone())
    assert torch.equal(bank.codes, codes)
    fresh = MODELS.build(dict(type='DualAsymmetricHasher',
                              stream_f=_stream()))
    with pytest.raises(RuntimeError, match='DADHCodeUpdateHook'):
        fresh.train_step(_batch([0, 1]), None)


@pytest.mark.parametrize('normalization', ['objective', 'per_term'])
def test_stream_losses_recompute(normalization):
    model = _model(loss_normalization=normalization)
    bank = model.code_bank
    bank.outputs_g.normal_()
    batch = _batch([0, 4, 5])
    inputs = model.data_preprocessor(batch, True)['inputs']
    idx = torch.tensor([0, 4, 5])
    losses = model.stream_losses('f', inputs, idx)
    raw = model.stream_f(inputs, mode='tensor')
    assert torch.equal(bank.outputs_f[idx], raw.detach())  # buffer updated
    soft, other = raw.tanh(), bank.outputs_g.tanh()
    sim = label_similarity(bank.train_labels[idx], bank.train_labels)
    theta = 0.5 * soft @ other.t()
    pair = 10. * (torch.nn.functional.softplus(theta) - sim * theta).mean()
    code = ((soft @ bank.codes.t() - K * (2 * sim - 1))**2).mean()
    n = 3
    gap_avg, bal_avg = (n * N, n * N) if normalization == 'objective' else (
        n, N * N)
    gap = 100. * (raw - bank.codes[idx]).pow(2).sum() / gap_avg
    balance = 1. * bank.outputs_f.sum(0).pow(2).sum() / bal_avg
    for key, value in dict(pair=pair, code=code, gap=gap,
                           balance=balance).items():
        assert torch.allclose(losses[f'loss_{key}_f'], value, rtol=1e-5), key


def _params(stream):
    return torch.cat([p.detach().flatten() for p in stream.parameters()])


@pytest.mark.parametrize('alternation', ['epoch', 'iter', 'joint'])
def test_alternation_updates_only_the_active_streams(alternation):
    model = _model(alternation=alternation)
    bank = model.code_bank
    wrappers = _wrappers(model)
    schedule = {  # (epoch, iter) -> streams expected to move
        'epoch': [((0, 0), 'f'), ((0, 1), 'f'), ((1, 2), 'g')],
        'iter': [((0, 0), 'f'), ((0, 1), 'g'), ((1, 2), 'f')],
        'joint': [((0, 0), 'fg'), ((1, 1), 'fg')],
    }[alternation]
    for (epoch, it), moving in schedule:
        model.set_train_progress(epoch, it)
        before = {n: _params(s) for n, s in model.streams.items()}
        outputs_before = {n: bank.outputs(n).clone() for n in model.streams}
        log = model.train_step(_batch([it, it + 3]), wrappers)
        assert torch.isfinite(log['loss'])
        for name, stream in model.streams.items():
            moved = not torch.equal(before[name], _params(stream))
            assert moved == (name in moving), (epoch, it, name)
            assert (not torch.equal(outputs_before[name],
                                    bank.outputs(name))) == (name in moving)
            assert any(k.endswith(f'_{name}') for k in log) == (name
                                                                in moving)


def test_single_optimizer_only_for_joint_or_single_stream():
    model = _model(alternation='epoch')
    single = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match='one optimizer per stream'):
        model.train_step(_batch([0, 1]), single)
    ablation = _model(two=False)
    log = ablation.train_step(
        _batch([0, 1]),
        OptimWrapper(torch.optim.SGD(ablation.parameters(), lr=0.1)))
    assert 'loss_pair_f' in log and not any(k.endswith('_g') for k in log)
    with pytest.raises(KeyError, match='stream_g'):
        model.set_train_progress(1, 0)
        model.train_step(_batch([0, 1]), OptimWrapperDict(
            stream_f=OptimWrapper(torch.optim.SGD(
                model.stream_f.parameters(), lr=0.1))))


def test_predict_sources_and_learned_database_codes():
    model = _model(query_code='f', database_code='sum',
                   learned_database_codes=True).eval()
    batch = _batch([0, 1, 2])
    inputs = model.data_preprocessor(batch, False)['inputs']
    f = model.stream_f(inputs, mode='tensor')
    g = model.stream_g(inputs, mode='tensor')
    sign = lambda x: torch.where(x >= 0, 1., -1.)  # noqa: E731
    queries = model.predict(inputs, _batch([0, 1, 2], 'query')['data_samples'])
    assert torch.equal(torch.stack([s.hash_code for s in queries]), sign(f))
    # database items 0..2 are training items (pool_index 100..102): rows of B
    db = _batch([0, 1, 2], 'database')['data_samples']
    db[2].set_metainfo(dict(pool_index=7))  # not a training item: network
    codes = torch.stack([s.hash_code for s in model.predict(inputs, db)])
    assert torch.equal(codes[:2], model.code_bank.codes[:2])
    assert torch.equal(codes[2], sign(f + g)[2])
    assert torch.equal(model(inputs), f)


def test_update_codes_lowers_the_objective():
    for code_loss in [dict(type='AsymmetricInnerProductLoss',
                           similarity='balanced'),
                      dict(type='AsymmetricPairwiseLogisticLoss')]:
        model = _model(code_loss=code_loss)
        bank = model.code_bank
        bank.outputs_f.normal_()
        bank.outputs_g.normal_()
        stats = model.update_codes('dcc', sweeps=2)
        assert stats['objective_after'] <= stats['objective_before']
        assert 0 < stats['changed_bits'] <= 1
        closed = model.update_codes('closed_form')
        assert closed['objective_before'] == pytest.approx(
            stats['objective_after'], rel=1e-9)


def test_fresh_model_loads_b_and_buffers_from_a_state_dict():
    model = _model(num_classes=None)
    bank = model.code_bank
    bank.outputs_f.normal_()
    model.update_codes()
    fresh = MODELS.build(dict(type='DualAsymmetricHasher', stream_f=_stream(),
                              stream_g=_stream()))
    assert fresh.num_train == 0
    fresh.load_state_dict(model.state_dict())
    for name in ('codes', 'outputs_f', 'outputs_g', 'train_labels',
                 'train_ids'):
        assert torch.equal(getattr(fresh.code_bank, name),
                           getattr(model.code_bank, name)), name
    wrong_bits = MODELS.build(dict(type='DualAsymmetricHasher',
                                   stream_f=_stream(bits=K + 1)))
    with pytest.raises(RuntimeError, match='size mismatch'):
        wrong_bits.load_state_dict(model.state_dict(), strict=False)


def _default_model(**kwargs):
    """The class defaults (the evidence-based ones), attached to N items."""
    model = MODELS.build(dict(type='DualAsymmetricHasher',
                              stream_f=_stream(), stream_g=_stream(),
                              num_classes=3, **kwargs))
    labels = torch.nn.functional.one_hot(torch.arange(N) % 3, 3).float()
    model.attach_training_set(labels, torch.arange(N) + 100)
    return model


def test_defaults_follow_the_evidence():
    """Both streams every batch, the gap on tanh(F), test codes from stream
    f (configs/dadh/README.md gives the sources); B from seeded random ±1,
    eta = 1 (chosen on the validation split); B from zeros on request."""
    model = _default_model()
    assert model.alternation == 'joint' and model.tanh_in_gap
    assert model.query_code == model.database_code == 'f'
    assert model.balance_loss.loss_weight == 1.
    codes = model.code_bank.codes
    assert set(codes.unique().tolist()) == {-1., 1.}
    assert torch.equal(codes, _default_model().code_bank.codes)  # seeded
    model = _default_model(code_init='zeros')
    assert torch.equal(model.code_bank.codes, torch.zeros(N, K))
    model.code_bank.outputs_f.normal_()
    model.code_bank.outputs_g.normal_()
    model.update_codes()
    assert set(model.code_bank.codes.unique().tolist()) <= {-1., 1.}
    with pytest.raises(ValueError, match='code init'):
        _default_model(code_init='ones')


def test_joint_step_trains_both_streams_against_live_outputs():
    """One iteration updates f and g; f's outputs of this batch are in the
    buffer before g's losses are computed, so g's cross-stream term sees
    them (f sees g's latest buffered outputs)."""
    model = _default_model()
    bank = model.code_bank
    bank.outputs_g.normal_()
    batch, idx = _batch([1, 2, 7]), torch.tensor([1, 2, 7])
    inputs = model.data_preprocessor(batch, True)['inputs']
    with torch.no_grad():
        f_raw = model.stream_f(inputs, mode='tensor')
        g_raw = model.stream_g(inputs, mode='tensor')
    before = {n: _params(s) for n, s in model.streams.items()}
    log = model.train_step(batch, _wrappers(model))
    for name, stream in model.streams.items():
        assert not torch.equal(before[name], _params(stream)), name
    assert torch.allclose(bank.outputs_f[idx], f_raw)
    assert torch.allclose(bank.outputs_g[idx], g_raw)
    # g's pair term against f's buffer holding this batch's f outputs.
    sim = label_similarity(bank.train_labels[idx], bank.train_labels)
    theta = 0.5 * g_raw.tanh() @ bank.outputs_f.tanh().t()
    pair = 10. * (torch.nn.functional.softplus(theta) - sim * theta).mean()
    assert torch.allclose(log['loss_pair_g'], pair, rtol=1e-5)


def test_gradient_shares_are_the_terms_norms_on_the_outputs():
    """grad_share_<term>_<stream> = ||dL_t/dF|| / sum_u ||dL_u/dF||, at
    the configured interval only, and the backward still works."""
    from hashplugins.models.hashers.dadh_hasher import gradient_shares
    out = torch.randn(4, 3, requires_grad=True)
    weights = torch.randn(4, 3)
    shares = gradient_shares(
        dict(lin=(weights * out).sum(), sq=(out**2).sum()), out, 'f')
    norms = torch.stack([weights.norm(), (2 * out).detach().norm()])
    assert torch.allclose(
        torch.stack([shares['grad_share_lin_f'], shares['grad_share_sq_f']]),
        norms / norms.sum())

    model = _default_model(grad_share_interval=2, code_init='zeros')
    model.code_bank.outputs_g.normal_()
    batch, idx = _batch([0, 5]), torch.tensor([0, 5])
    inputs = model.data_preprocessor(batch, True)['inputs']
    model.set_train_progress(0, 2)
    losses = model.stream_losses('f', inputs, idx)
    shares = {k: v for k, v in losses.items() if k.startswith('grad_share')}
    # B = 0 before the first B-step: the code term has no gradient yet.
    assert set(shares) == {f'grad_share_{t}_f'
                           for t in ('pair', 'code', 'gap', 'balance')}
    assert shares['grad_share_code_f'] == 0
    assert torch.isclose(sum(shares.values()), torch.tensor(1.))
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    model.set_train_progress(0, 3)  # off the interval: no shares
    assert not any(k.startswith('grad_share')
                   for k in model.stream_losses('f', inputs, idx))
    log = model.train_step(batch, _wrappers(model))
    assert not any(k.startswith('grad_share') for k in log)
    model.set_train_progress(0, 4)
    log = model.train_step(batch, _wrappers(model))
    assert {'grad_share_pair_f', 'grad_share_pair_g'} <= set(log)
