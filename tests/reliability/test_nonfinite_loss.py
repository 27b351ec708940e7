"""A NaN/inf loss at iteration k stops training with a message naming the
loss and the iteration (policy 'stop', the default), or skips that
optimizer step leaving weights and optimizer states bit-identical (policy
'skip'): for a single-optimizer DeepHasher (SGD with momentum) and for the
multi-optimizer train_steps of HashingGAN and DualAsymmetricHasher."""
import math
import os
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub
from mmengine.runner import Runner
from mmpretrain.registry import HOOKS, MODELS

from hashplugins.engine.hooks import NonFiniteLossError, NonFiniteLossHook
from hashplugins.engine.runner import add_reliability_hooks
from hashplugins.models.gans import HashingGAN
from hashplugins.models.hashers import DualAsymmetricHasher
from hashplugins.models.hashers.dadh_code_bank import TrainingCodeBank

from harness import REPO_ROOT, assert_same_tensors, run_forked_ranks

BAD_ITER = 3  # 1-based, as in the training log
PIPELINE = [dict(type='Resize', scale=(32, 32)),
            dict(type='PackHashInputs', num_classes=10)]


def _bad_now() -> bool:
    return MessageHub.get_current_instance().get_info('iter') == BAD_ITER - 1


def _poison(value):
    return value + float('nan') if _bad_now() else value


@MODELS.register_module(force=True)
class PoisonedLoss(torch.nn.Module):
    """Test only: a loss term that is NaN at iteration BAD_ITER."""

    def forward(self, codes, labels):
        return _poison(codes.pow(2).mean() * 0.)


@MODELS.register_module(force=True)
class PoisonedGAN(HashingGAN):
    """Test only: both GAN losses are NaN at iteration BAD_ITER."""

    def disc_loss(self, real, real_labels):
        losses = super().disc_loss(real, real_labels)
        losses['loss_disc_fake'] = _poison(losses['loss_disc_fake'])
        return losses

    def gen_loss(self, num):
        losses = super().gen_loss(num)
        losses['loss_gen'] = _poison(losses['loss_gen'])
        return losses


@MODELS.register_module(force=True)
class PoisonedDADH(DualAsymmetricHasher):
    """Test only: the code term is infinite at iteration BAD_ITER."""

    def stream_losses(self, name, inputs, indices):
        losses = super().stream_losses(name, inputs, indices)
        key = f'loss_code_{name}'
        if _bad_now():
            losses[key] = losses[key] + float('inf')
        return losses


@HOOKS.register_module(force=True)
class StateRecorderHook(Hook):
    """Test only: model + optimizer states around iteration BAD_ITER."""

    priority = 'LOWEST'
    states = {}

    @staticmethod
    def _state(runner):
        model = {k: v.clone() for k, v in runner.model.state_dict().items()}
        optim = runner.optim_wrapper.state_dict()
        return model, optim

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == BAD_ITER:
            type(self).states['before'] = self._state(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 in (BAD_ITER, BAD_ITER + 1):
            key = 'after' if runner.iter + 1 == BAD_ITER else 'next'
            type(self).states[key] = self._state(runner)


def _stream():
    return dict(backbone=dict(type='LeNet5'),
                head=dict(type='HashHead', in_channels=120, num_bits=8,
                          activation='identity'))


def _model(kind):
    if kind == 'deep_hasher':
        return dict(
            type='DeepHasher', backbone=dict(type='LeNet5'),
            data_preprocessor=dict(mean=[33.3], std=[78.6]),
            head=dict(type='HashHead', in_channels=120, num_bits=8,
                      losses=dict(quant=dict(type='HashQuantizationLoss'),
                                  poisoned=dict(type='PoisonedLoss'))))
    if kind == 'gan':
        return dict(
            type='PoisonedGAN',
            data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5],
                                   std=[127.5]),
            generator=dict(type='DCGANGenerator', out_size=32, noise_size=8,
                           base_channels=4, out_channels=1),
            discriminator=dict(type='DCGANDiscriminator', in_size=32,
                               in_channels=1, base_channels=4))
    return dict(
        type='PoisonedDADH',
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[33.3],
                               std=[78.6]),
        stream_f=_stream(), stream_g=_stream(), num_classes=10,
        alternation='joint')


def _optim(kind):
    sgd = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                              weight_decay=1e-4))
    adam = dict(optimizer=dict(type='Adam', lr=1e-3))
    if kind == 'deep_hasher':
        return sgd
    names = (('generator', 'discriminator') if kind == 'gan' else
             ('stream_f', 'stream_g'))
    return dict(constructor='MultiOptimWrapperConstructor',
                **{names[0]: sgd, names[1]: adam})


def _runner(tmp_path, kind, policy, max_iters=BAD_ITER + 1):
    hooks = [dict(type='NonFiniteLossHook', policy=policy),
             dict(type='StateRecorderHook')]
    if kind == 'dadh':
        hooks.append(dict(type='DADHCodeUpdateHook', interval=1))
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_',
                                   'default_runtime.py'))
    cfg.merge_from_dict(dict(
        work_dir=str(tmp_path), experiment_name=f'{kind}_{policy}',
        log_level='WARNING', model=_model(kind),
        train_dataloader=dict(
            batch_size=8, num_workers=0,
            dataset=dict(type='MNIST5kHashing', three_channels=False,
                         split='train', indices=8 * max_iters,
                         pipeline=PIPELINE),
            sampler=dict(type='DefaultSampler', shuffle=True)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        optim_wrapper=_optim(kind),
        default_hooks=dict(checkpoint=None),
        custom_hooks=hooks))
    StateRecorderHook.states = {}
    return Runner.from_cfg(cfg)


BAD_KEY = dict(deep_hasher='loss_poisoned', gan='loss_disc_fake',
               dadh='loss_code_f')


@pytest.mark.parametrize('kind', ['deep_hasher', 'gan', 'dadh'])
def test_stop_names_loss_and_iteration(tmp_path, kind, warm_runner):
    runner = _runner(tmp_path, kind, 'stop')
    with pytest.raises(NonFiniteLossError) as err:
        runner.train()
    message = str(err.value)
    assert f'{BAD_KEY[kind]}=' in message, message
    assert f'iteration {BAD_ITER} (epoch 1' in message, message
    assert "nonfinite_loss='skip'" in message
    # stopped before any optimizer step of the bad iteration
    model, _ = StateRecorderHook.states['before']
    for key, value in runner.model.named_parameters():
        assert torch.equal(value, model[key]), key
        assert torch.isfinite(value).all(), key


@pytest.mark.parametrize('kind', ['deep_hasher', 'gan', 'dadh'])
def test_skip_leaves_weights_and_optimizers_bit_identical(
        tmp_path, kind, warm_runner):
    runner = _runner(tmp_path, kind, 'skip')
    runner.train()
    states = StateRecorderHook.states
    (model_before, optim_before) = states['before']
    (model_after, optim_after) = states['after']
    for key in model_before:
        if kind == 'dadh' and key.startswith('code_bank.outputs_'):
            continue  # the outputs of the unchanged streams are stored
        assert torch.equal(model_before[key], model_after[key]), key
    assert_same_tensors(optim_before, optim_after, 'optimizer')
    # the next, finite iteration trains again
    model_next, _ = states['next']
    assert any(not torch.equal(model_next[k], model_after[k])
               for k in model_after if 'weight' in k)
    hook = next(h for h in runner.hooks if isinstance(h, NonFiniteLossHook))
    assert hook.skipped_steps >= 1
    assert all(torch.isfinite(v).all() for v in
               runner.model.state_dict().values() if v.is_floating_point())


def test_skip_stops_after_too_many_consecutive_bad_steps():
    hook = NonFiniteLossHook(policy='skip', max_consecutive_skips=2)
    runner = SimpleNamespace(iter=4, epoch=0)
    nan = {'loss': torch.tensor(math.nan), 'loss_x': torch.tensor(math.nan)}
    hook._check(runner, nan, nan['loss'])
    hook._check(runner, nan, nan['loss'])
    with pytest.raises(NonFiniteLossError, match='after 2 consecutive'):
        hook._check(runner, nan, nan['loss'])


def test_bad_policy_is_refused():
    with pytest.raises(ValueError, match="nonfinite_loss"):
        NonFiniteLossHook(policy='ignore')


def test_train_tool_adds_the_hooks_with_the_config_knob():
    cfg = Config(dict(custom_hooks=[dict(type='WeightsOnlyCheckpointHook')]))
    add_reliability_hooks(cfg)
    types = [h['type'] for h in cfg.custom_hooks]
    assert types == ['WeightsOnlyCheckpointHook', 'CheckpointFitHook',
                     'NonFiniteLossHook', 'StepReseedHook']
    assert cfg.custom_hooks[2]['policy'] == 'stop'
    cfg = Config(dict(nonfinite_loss='skip', step_reseed=False,
                      checkpoint_fit_check=False))
    add_reliability_hooks(cfg)
    assert cfg.custom_hooks == [dict(type='NonFiniteLossHook',
                                     policy='skip')]
    cfg = Config(dict())
    add_reliability_hooks(cfg, train=False)  # tools/test.py
    assert cfg.custom_hooks == [dict(type='CheckpointFitHook')]
    listed = [dict(type='NonFiniteLossHook', policy='skip',
                   max_consecutive_skips=3)]
    cfg = Config(dict(custom_hooks=listed, step_reseed=False,
                      checkpoint_fit_check=False))
    add_reliability_hooks(cfg)
    assert cfg.custom_hooks == listed  # the config's own entry is kept


def test_dadh_bank_never_holds_non_finite_outputs():
    bank = TrainingCodeBank(4, ('f', ), num_classes=2)
    bank.attach(torch.eye(2)[torch.tensor([0, 1, 0, 1])])
    bank.store('f', torch.tensor([0, 1]), torch.ones(2, 4))
    bank.store('f', torch.tensor([2, 3]), torch.full((2, 4), math.nan))
    assert torch.isfinite(bank.outputs('f')).all()
    bank.outputs('f')[3, 0] = math.inf  # e.g. a loaded, corrupted state
    with pytest.raises(FloatingPointError, match='outputs_f.*sample_idx'):
        bank.update_codes(None, None)


def _rank_worker(rank, world_size, port, policy):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    hook = NonFiniteLossHook(policy=policy)
    value = torch.tensor(math.nan if rank == 1 else 1.)
    try:
        hook._check(SimpleNamespace(iter=6, epoch=1),
                    {'loss': value, 'loss_pair': value}, value)
        return f'skip={hook._skip_next}'
    except NonFiniteLossError as err:
        return str(err)


@pytest.mark.parametrize('policy', ['stop', 'skip'])
def test_ranks_agree_when_one_rank_has_a_nan(policy):
    """Only rank 1 sees NaN: both ranks stop (rank 0 says why) or both
    skip, instead of one rank hanging in the next collective."""
    results = run_forked_ranks(_rank_worker, 2, policy)
    if policy == 'stop':
        assert 'non-finite loss on another rank at iteration 7' in results[0]
        assert 'loss_pair=nan at iteration 7 (epoch 2' in results[1]
    else:
        assert results == ['skip=True', 'skip=True']


def _ddp_skip_worker(rank, world_size, port):
    from torch.nn.parallel import DistributedDataParallel as DDP
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    torch.manual_seed(0)
    model = DDP(torch.nn.Linear(4, 2))
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x = torch.full((3, 4), float(rank + 1))
    model(x).sum()  # a skipped step: forward, no backward, no step
    model(x).sum().backward()  # the next step must still synchronize
    optim.step()
    weight = model.module.weight.detach().clone()
    gathered = [torch.empty_like(weight) for _ in range(world_size)]
    dist.all_gather(gathered, weight)
    return bool(torch.equal(gathered[0], gathered[1]))


def test_skipped_step_leaves_ddp_usable():
    """'skip' runs a DDP forward without backward; the next step's
    gradient all-reduce must still work and keep the ranks equal."""
    assert run_forked_ranks(_ddp_skip_worker, 2) == [True, True]
