"""HashingGAN.train_step: each step updates only its own parameters, the
disc_steps / gen_steps ratios hold, conditional variants train."""
import pytest
import torch
from mmengine.logging import MessageHub

from gan_helpers import batch, build_gan, changed, optim_wrappers, snapshot

torch.set_num_threads(1)


def _set_iter(i):
    MessageHub.get_current_instance().update_info('iter', i)


def test_discriminator_step_leaves_generator_unchanged():
    model = build_gan()
    wrappers = optim_wrappers(model)
    g0, d0 = snapshot(model.generator), snapshot(model.discriminator)
    data = model.data_preprocessor(batch(), True)
    logs = model.train_discriminator(data['inputs'], None,
                                     wrappers['discriminator'])
    assert {'loss', 'loss_disc_real', 'loss_disc_fake'} <= set(logs)
    assert not changed(g0, model.generator)
    assert changed(d0, model.discriminator) == set(d0)
    assert all(p.grad is None for p in model.generator.parameters())


def test_generator_step_leaves_discriminator_unchanged():
    model = build_gan()
    wrappers = optim_wrappers(model)
    g0, d0 = snapshot(model.generator), snapshot(model.discriminator)
    logs = model.train_generator(4, wrappers['generator'])
    assert set(logs) == {'loss_gen'}
    assert not changed(d0, model.discriminator)
    assert changed(g0, model.generator) == set(g0)
    # the discriminator is trainable again afterwards, with no stale grads
    assert all(p.requires_grad and p.grad is None
               for p in model.discriminator.parameters())


def _steps(wrapper):
    state = wrapper.optimizer.state_dict()['state']
    return int(next(iter(state.values()))['step']) if state else 0


@pytest.mark.parametrize('disc_steps,gen_steps', [(1, 1), (2, 1), (1, 3)])
def test_step_ratios(disc_steps, gen_steps):
    model = build_gan(disc_steps=disc_steps, gen_steps=gen_steps)
    wrappers = optim_wrappers(model)
    for i in range(4):
        _set_iter(i)
        g0 = snapshot(model.generator)
        logs = model.train_step(batch(seed=i), wrappers)
        gen_iter = (i + 1) % disc_steps == 0
        assert ('loss_gen' in logs) == gen_iter
        assert bool(changed(g0, model.generator)) == gen_iter
    assert _steps(wrappers['discriminator']) == 4
    assert _steps(wrappers['generator']) == 4 // disc_steps * gen_steps


@pytest.mark.parametrize('conditioning', ['projection', 'ac'])
def test_conditional_train_step(conditioning):
    model = build_gan(num_classes=10, conditioning=conditioning)
    wrappers = optim_wrappers(model)
    _set_iter(0)
    logs = model.train_step(batch(), wrappers)
    expected = {'loss_disc_real', 'loss_disc_fake', 'loss_gen'}
    if conditioning == 'ac':
        expected |= {'loss_disc_cls', 'loss_gen_cls'}
    assert expected <= set(logs)
    fakes = model.sample(6, labels=torch.arange(6))
    assert fakes.shape == (6, 3, 32, 32)
    assert model.generator.training  # sample() restores the mode


def test_conditional_needs_one_label_per_real_image():
    model = build_gan(num_classes=10, conditioning='projection')
    data = batch()
    data['data_samples'][1].set_gt_label([1, 2])
    with pytest.raises(ValueError, match='sample 1'):
        model.train_step(data, optim_wrappers(model))


def test_mismatched_classes_and_bad_ratio_raise():
    with pytest.raises(ValueError, match='same classes'):
        build_gan(discriminator=dict(type='DCGANDiscriminator',
                                     base_channels=8, num_classes=10,
                                     conditioning='ac'))
    with pytest.raises(ValueError, match='disc_steps'):
        build_gan(disc_steps=0)


def test_hinge_loss_trains():
    model = build_gan(adv_loss='hinge')
    _set_iter(0)
    logs = model.train_step(batch(), optim_wrappers(model))
    assert torch.isfinite(logs['loss']) and 'loss_gen' in logs
