"""B and the output buffers go into checkpoints and come back bit-exactly
on --resume, through the real Runner, CheckpointHook and DADH hook."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import hashplugins  # noqa: F401

torch.set_num_threads(1)
BUFFERS = ('codes', 'outputs_f', 'outputs_g', 'train_labels', 'train_ids')
PIPELINE = [dict(type='Resize', scale=(32, 32)),
            dict(type='PackHashInputs', num_classes=10)]


def _stream():
    return dict(backbone=dict(type='LeNet5'),
                head=dict(type='HashHead', in_channels=120, num_bits=8,
                          activation='identity'))


def _cfg(work_dir, max_epochs, num_items=96, resume=False, load_from=None):
    return Config(dict(
        default_scope='mmpretrain',
        work_dir=work_dir,
        experiment_name=osp.basename(work_dir),  # one runner name each
        model=dict(
            type='DualAsymmetricHasher',
            data_preprocessor=dict(type='ClsDataPreprocessor', mean=[33.3],
                                   std=[78.6]),
            stream_f=_stream(), stream_g=_stream(), num_classes=10,
            code_loss=dict(type='AsymmetricInnerProductLoss',
                           similarity='balanced'),
            alternation='iter', learned_database_codes=True),
        train_dataloader=dict(
            batch_size=32, num_workers=0,
            dataset=dict(type='MNIST5kHashing', split='train',
                         three_channels=False, indices=num_items,
                         pipeline=PIPELINE),
            sampler=dict(type='DefaultSampler', shuffle=True)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            stream_f=dict(optimizer=dict(type='Adam', lr=1e-3)),
            stream_g=dict(optimizer=dict(type='Adam', lr=1e-3))),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='WeightsOnlyCheckpointHook'),
                      dict(type='DADHCodeUpdateHook', interval=1)],
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        log_level='WARNING'))


def _buffers(model):
    return {name: getattr(model.code_bank, name).clone() for name in BUFFERS}


def test_b_and_buffers_survive_save_and_resume(tmp_path):
    work = str(tmp_path / 'run')
    runner = Runner.from_cfg(_cfg(work, max_epochs=1))
    runner.train()
    saved = _buffers(runner.model)
    assert saved['codes'].shape == (96, 8)
    assert torch.count_nonzero(saved['outputs_g']) > 0  # g trained too
    assert (saved['train_ids'] >= 0).all()
    ckpt_path = osp.join(work, 'epoch_1.pth')
    state = torch.load(ckpt_path, weights_only=True)['state_dict']
    for name, value in saved.items():
        assert torch.equal(state[f'code_bank.{name}'], value), name

    resumed = Runner.from_cfg(
        _cfg(str(tmp_path / 'resumed'), max_epochs=1, resume=True,
             load_from=ckpt_path))
    resumed.train()  # loads, the hook checks the set, no epoch left to run
    assert resumed.epoch == 1
    for name, value in saved.items():
        assert torch.equal(getattr(resumed.model.code_bank, name),
                           value), name

    # resuming with a different training set is refused by the hook
    other = Runner.from_cfg(
        _cfg(str(tmp_path / 'other'), max_epochs=2, num_items=64,
             resume=True, load_from=ckpt_path))
    with pytest.raises(ValueError, match='resume with the same dataset'):
        other.train()


def test_b_steps_every_n_iterations(tmp_path):
    """by_epoch=False: a B-step after every second iteration of a real
    run (3 iterations of 32 images per epoch, 2 epochs -> iterations 2, 4
    and 6), its numbers in the training log scalars, B ±1 from a zero
    start."""
    cfg = _cfg(str(tmp_path / 'iters'), max_epochs=2)
    cfg.model.alternation = 'joint'
    cfg.model.code_init = 'zeros'
    cfg.custom_hooks = [dict(type='DADHCodeUpdateHook', interval=2,
                             by_epoch=False)]
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    steps = []
    model_update = runner.model.update_codes

    def counted(*args, **kwargs):
        steps.append(runner.iter)
        return model_update(*args, **kwargs)

    runner.model.update_codes = counted
    runner.train()
    assert steps == [1, 3, 5]  # runner.iter is 0-based inside the iteration
    codes = runner.model.code_bank.codes
    assert set(codes.unique().tolist()) == {-1., 1.}
    history = runner.message_hub.get_scalar('train/dadh_changed_bits')
    assert len(history.data[0]) == 3
