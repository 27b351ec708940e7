"""DSH-GANs training steps: each optimizer updates only its own module;
the schedule (GAN pre-training, then joint CNN/G steps, D only on
request) takes the configured steps; the G step leaves the CNN's
BatchNorm statistics alone; unlabelled images never enter a label loss;
the real-triplet ablation is a model of its own."""
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.logging import MessageHub

from dsh_helpers import (build_dsh, build_real_triplet, changed,
                         optim_wrapper, optim_wrappers, semi_batch, snapshot)

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
    model = build_dsh(pretrain_iters=1, hasher_steps=2, gen_steps=1,
                      joint_gan_loss_weight=1.)
    wrappers = optim_wrappers(model)
    record = _record_updates(model, wrappers)
    batch = semi_batch([0, 1, 2, 3], num_unlabelled=2)
    _set_iter(0)  # GAN stage: a D step, then a G step
    model.train_step(batch, wrappers)
    assert record == [('discriminator', {'discriminator'}),
                      ('generator', {'generator'})]
    record.clear()
    _set_iter(1)  # joint, D kept in the game: D, 2 CNN steps, G
    logs = model.train_step(batch, wrappers)
    assert record == [('discriminator', {'discriminator'}),
                      ('hasher', {'hasher'}), ('hasher', {'hasher'}),
                      ('generator', {'generator'})]
    assert {'loss_triplet', 'loss_adv', 'loss_gen_adv', 'loss_gen_triplet',
            'loss_gen', 'loss_disc_cls'} <= set(logs)
    # frozen modules are trainable again afterwards
    assert all(p.requires_grad for p in model.parameters())


def test_joint_stage_has_no_separate_discriminator_by_default():
    """Blog eqs. 6-7: the CNN's adversary stream is the discriminator."""
    model = build_dsh(disc_steps=2)
    wrappers = optim_wrappers(model)
    record = _record_updates(model, wrappers)
    batch = semi_batch([0, 1, 2, 3])
    logs = {}
    for it in range(2):
        _set_iter(it)
        logs.update(model.train_step(batch, wrappers))
    # no D step, G every 2nd iteration, G's loss never reads D
    assert [r[0] for r in record] == ['hasher', 'hasher', 'generator']
    assert not {'loss_gen', 'loss_gen_cls', 'loss_disc_real'} & set(logs)
    assert {'loss_gen_triplet', 'loss_gen_adv', 'loss_gen_cls_cnn'} <= set(
        logs)


def _bn_buffers(module):
    return {name: buf.clone() for name, buf in module.named_buffers()
            if 'running' in name or 'num_batches' in name}


def test_generator_step_leaves_the_cnn_batch_norm_statistics_alone():
    model = build_dsh()
    wrappers = optim_wrappers(model)
    labels = torch.eye(4)
    reals = torch.randn(4, 3, 32, 32)
    before = _bn_buffers(model.hasher)
    assert len(before) >= 40  # ResNet-18: 20 BN layers x (mean, var, count)
    model._update(wrappers['generator'], model.generator,
                  lambda: model.joint_gen_losses(reals, labels),
                  [model.hasher, model.discriminator])
    after = _bn_buffers(model.hasher)
    assert all(torch.equal(before[k], after[k]) for k in before)
    # ... while the CNN still normalized with the batch (train mode) and
    # every BN layer tracks again afterwards
    assert all(m.track_running_stats for m in model.hasher.modules()
               if isinstance(m, nn.modules.batchnorm._BatchNorm))
    model._update(wrappers['hasher'], model.hasher,
                  lambda: model.cnn_losses(reals, labels, reals[:2]))
    moved = _bn_buffers(model.hasher)
    assert all(not torch.equal(before[k], moved[k]) for k in before)
    # the knob restores the old behaviour: the G step moves them too
    model = build_dsh(generator_step_updates_bn=True)
    wrappers = optim_wrappers(model)
    before = _bn_buffers(model.hasher)
    model._update(wrappers['generator'], model.generator,
                  lambda: model.joint_gen_losses(reals, labels),
                  [model.hasher, model.discriminator])
    after = _bn_buffers(model.hasher)
    assert all(not torch.equal(before[k], after[k]) for k in before)


def test_generator_minimises_the_triplet_loss():
    """Eq. 7: l_triplet reaches G; with only that term G still moves."""
    model = build_dsh(generator_losses=dict(adversary=None,
                                            classification=None))
    wrappers = optim_wrappers(model)
    before = snapshot(model.generator)
    logs = model._update(wrappers['generator'], model.generator,
                         lambda: model.joint_gen_losses(
                             torch.randn(4, 3, 32, 32), torch.eye(4)),
                         [model.hasher, model.discriminator])
    assert set(logs) == {'loss_gen_triplet'}
    assert changed(before, model.generator)


def test_no_adversary_variant_freezes_the_stream_through_every_step():
    model = build_dsh(losses=dict(adversary=None, unlabelled_adversary=None),
                      generator_losses=dict(adversary=None))
    wrappers = optim_wrappers(model)
    stream = snapshot(model.hasher.adversary)
    for it in range(2):
        _set_iter(it)
        logs = model.train_step(semi_batch([0, 1, 2, 3]), wrappers)
        assert not any('adv' in k for k in logs)
        assert not any(p.requires_grad
                       for p in model.hasher.adversary.parameters())
    assert not changed(stream, model.hasher.adversary)


def test_bad_knobs_name_the_value():
    with pytest.raises(ValueError, match='unknown terms'):
        build_dsh(losses=dict(tripplet=dict(type='TripletHingeLoss')))
    with pytest.raises(ValueError, match='multi_label'):
        build_dsh(multi_label=True)  # softmax classification losses
    with pytest.raises(ValueError, match='triplet_images'):
        build_dsh(triplet_images='max')
    with pytest.raises(ValueError, match='joint_gan_loss_weight'):
        build_dsh(joint_gan_loss_weight=-1.)


def test_real_triplet_ablation_is_its_own_model():
    model = build_real_triplet()
    assert not hasattr(model, 'generator')
    wrapper = optim_wrapper(model)
    before = snapshot(model.hasher)
    adversary = snapshot(model.hasher.adversary)
    logs = model.train_step(semi_batch([0, 0, 1, 1]), wrapper)
    assert {'loss_triplet', 'loss_cls'} <= set(logs)
    assert float(logs['loss_triplet'].detach()) > 0  # real triplets here
    assert changed(before, model.hasher)
    assert not changed(adversary, model.hasher.adversary)
    one = build_real_triplet(losses=dict(triplet=dict(
        type='SampledTripletLoss')))
    logs = one.train_step(semi_batch([0, 0, 1, 1]), optim_wrapper(one))
    assert float(logs['loss_triplet'].detach()) > 0


def _run_twice(build, step, labels, poison):
    outcomes = []
    for unlabelled_labels in (None, poison):
        model = build()
        batch = semi_batch(labels, 2, unlabelled_labels=unlabelled_labels)
        logs = []
        for it in range(2):  # GAN stage and joint stage
            _set_iter(it)
            torch.manual_seed(it)
            logs.append({k: float(v.detach()) for k, v in
                         step(model, copy.deepcopy(batch)).items()})
        outcomes.append((logs, copy.deepcopy(model.state_dict())))
    return outcomes


@pytest.mark.parametrize('kwargs,labels,poison', [
    (dict(pretrain_iters=1), [0, 1, 2, 3], [[0], [3]]),
    (dict(pretrain_iters=1, multi_label=True,
          losses=dict(classification=dict(type='MultiHotClassificationLoss',
                                          multi_label=True)),
          generator_losses=dict(classification=dict(
              type='MultiHotClassificationLoss', multi_label=True))),
     [[0, 1], [1], [2, 3], [3]], [[0, 1, 2], [3]]),
    ('real', [0, 0, 1, 1], [[0], [1]]),
])
def test_unlabelled_labels_never_reach_a_loss(kwargs, labels, poison):
    """Poisoned labels on the unlabelled samples change no loss and no
    parameter (same seed, same images)."""
    if kwargs == 'real':
        cache = {}

        def step(model, batch):
            wrapper = cache.setdefault(id(model), optim_wrapper(model))
            return model.train_step(batch, wrapper)
        outcomes = _run_twice(build_real_triplet, step, labels, poison)
    else:
        cache = {}

        def step(model, batch):
            wrappers = cache.setdefault(id(model), optim_wrappers(model))
            return model.train_step(batch, wrappers)
        outcomes = _run_twice(lambda: build_dsh(**kwargs), step, labels,
                              poison)
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
    for model in (build_dsh(num_bits=6), build_real_triplet(num_bits=6)):
        model.eval()
        out = model.val_step(semi_batch([0, 1], 0))
        codes = torch.stack([s.hash_code for s in out])
        assert codes.shape == (2, 6)
        assert set(codes.unique().tolist()) <= {-1., 1.}
    continuous = model.hasher(torch.zeros(1, 3, 32, 32))[0]
    assert continuous.min() >= 0 and continuous.max() <= 1  # sigmoid codes
