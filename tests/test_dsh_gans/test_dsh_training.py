"""DSH-GANs training steps: each optimizer updates only its own module;
the schedule (GAN pre-training, then joint D/CNN/G steps) takes the
configured steps; unlabelled images never enter a label loss."""
import copy

import pytest
import torch
from mmengine.logging import MessageHub

from dsh_helpers import build_dsh, changed, optim_wrappers, semi_batch, \
    snapshot

torch.set_num_threads(1)
MODULES = ('generator', 'discriminator', 'hasher')


def _set_iter(it):
    MessageHub.get_current_instance().update_info('iter', it)


def _record_updates(model, wrappers):
    """Patch every wrapper's update_params to record which modules'
    parameters that update changed."""
    record = []
    for name, wrapper in wrappers.items():
        original = wrapper.update_params

        def patched(loss, _orig=original, _name=name, **kwargs):
            before = {m: snapshot(getattr(model, m)) for m in MODULES}
            _orig(loss, **kwargs)
            record.append((_name, {
                m for m in MODULES if changed(before[m], getattr(model, m))
            }))
        wrapper.update_params = patched
    return record


def test_each_optimizer_updates_only_its_module():
    model = build_dsh(pretrain_iters=1, hasher_steps=2, gen_steps=1)
    wrappers = optim_wrappers(model)
    record = _record_updates(model, wrappers)
    batch = semi_batch([0, 1, 2, 3], num_unlabelled=2)
    _set_iter(0)  # GAN stage: a D step, then a G step
    model.train_step(batch, wrappers)
    assert record == [('discriminator', {'discriminator'}),
                      ('generator', {'generator'})]
    record.clear()
    _set_iter(1)  # joint: D, 2 CNN steps, G
    logs = model.train_step(batch, wrappers)
    assert record == [('discriminator', {'discriminator'}),
                      ('hasher', {'hasher'}), ('hasher', {'hasher'}),
                      ('generator', {'generator'})]
    assert {'loss_triplet', 'loss_adv', 'loss_gen_adv',
            'loss_disc_cls'} <= set(logs)
    # frozen modules are trainable again afterwards
    assert all(p.requires_grad for p in model.parameters())


def test_schedule_knobs():
    model = build_dsh(disc_steps=2, loss_weights=dict(gen_gan=0.))
    wrappers = optim_wrappers(model)
    record = _record_updates(model, wrappers)
    batch = semi_batch([0, 1, 2, 3])
    for it in range(2):
        _set_iter(it)
        model.train_step(batch, wrappers)
    # no D in the joint stage (gen_gan=0); G every 2nd iteration
    assert [r[0] for r in record] == ['hasher', 'hasher', 'generator']

    ablation = build_dsh(triplets='real')
    wrappers = optim_wrappers(ablation)
    record = _record_updates(ablation, wrappers)
    logs = ablation.train_step(semi_batch([0, 0, 1, 1]), wrappers)
    assert record == [('hasher', {'hasher'})]
    assert set(logs) == {'loss_triplet', 'loss_cls'}
    assert float(logs['loss_triplet'].detach()) > 0  # real triplets here
    with pytest.raises(ValueError, match='pretrain_iters'):
        build_dsh(triplets='real', pretrain_iters=5)
    with pytest.raises(ValueError, match='unknown loss_weights'):
        build_dsh(loss_weights=dict(tripplet=1.))


@pytest.mark.parametrize('kwargs,labels,poison', [
    (dict(pretrain_iters=1), [0, 1, 2, 3], [[0], [3]]),
    (dict(pretrain_iters=1, multi_label=True), [[0, 1], [1], [2, 3], [3]],
     [[0, 1, 2], [3]]),
    (dict(triplets='real'), [0, 0, 1, 1], [[0], [1]]),
])
def test_unlabelled_labels_never_reach_a_loss(kwargs, labels, poison):
    """Poisoned labels on the unlabelled samples change no loss and no
    parameter (same seed, same images)."""
    outcomes = []
    for unlabelled_labels in (None, poison):
        model = build_dsh(**kwargs)
        wrappers = optim_wrappers(model)
        batch = semi_batch(labels, 2, unlabelled_labels=unlabelled_labels)
        logs = []
        for it in range(2):  # GAN stage and joint stage
            _set_iter(it)
            torch.manual_seed(it)
            logs.append({k: float(v.detach()) for k, v in
                         model.train_step(copy.deepcopy(batch),
                                          wrappers).items()})
        outcomes.append((logs, copy.deepcopy(model.state_dict())))
    (logs_a, state_a), (logs_b, state_b) = outcomes
    assert logs_a == logs_b
    for key, value in state_a.items():
        assert torch.equal(value, state_b[key]), key


def test_batches_must_be_tagged():
    model = build_dsh()
    batch = semi_batch([0, 1])
    batch['data_samples'][0].set_metainfo(dict(is_labelled=None))
    with pytest.raises(ValueError, match='is_labelled'):
        model.train_step(batch, optim_wrappers(model))


def test_predict_writes_sign_codes():
    model = build_dsh(num_bits=6).eval()
    out = model.val_step(semi_batch([0, 1], 0))
    codes = torch.stack([s.hash_code for s in out])
    assert codes.shape == (2, 6) and set(codes.unique().tolist()) <= {-1., 1.}
    continuous = model.hasher(torch.zeros(1, 3, 32, 32))[0]
    assert continuous.min() >= 0 and continuous.max() <= 1  # sigmoid codes
