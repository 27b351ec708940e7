"""A HashingGAN run through the real mmengine Runner: checkpoints hold both
optimizers' states (weights_only-loadable), --resume restores them, and the
sample-grid hook writes PNG grids."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from gan_helpers import gan_cfg

torch.set_num_threads(1)
PIPELINE = [dict(type='Resize', scale=(32, 32)),
            dict(type='PackHashInputs', num_classes=10)]


def _cfg(work_dir, max_iters, resume=False, load_from=None):
    return Config(dict(
        default_scope='mmpretrain',
        work_dir=work_dir,
        experiment_name=osp.basename(work_dir),
        model=gan_cfg(num_classes=10, conditioning='ac', channels=1,
                      disc_steps=2),
        train_dataloader=dict(
            batch_size=8, num_workers=0,
            dataset=dict(type='MNIST5kHashing', split='train',
                         three_channels=False, indices=32,
                         pipeline=PIPELINE),
            sampler=dict(type='InfiniteSampler', shuffle=True)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=2e-4,
                                          betas=(0.5, 0.999))),
            discriminator=dict(optimizer=dict(type='Adam', lr=2e-4,
                                              betas=(0.5, 0.999)))),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=4,
                            by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='WeightsOnlyCheckpointHook'),
                      dict(type='GANSampleGridHook', interval=2,
                           num_samples=20)],
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        log_level='WARNING'))


def _optim_state(runner):
    return {name: wrapper.optimizer.state_dict()['state']
            for name, wrapper in runner.optim_wrapper.items()}


def _assert_states_equal(a, b):
    assert set(a) == set(b) == {'generator', 'discriminator'}
    for name in a:
        assert a[name] and set(a[name]) == set(b[name]), name
        for idx in a[name]:
            for key, value in a[name][idx].items():
                assert torch.equal(torch.as_tensor(value),
                                   torch.as_tensor(b[name][idx][key])), (
                                       name, idx, key)


def test_resume_restores_both_optimizers_and_grids(tmp_path):
    work = str(tmp_path / 'run')
    runner = Runner.from_cfg(_cfg(work, max_iters=4))
    runner.train()
    states = _optim_state(runner)
    # disc_steps=2: 4 discriminator steps, 2 generator steps
    assert int(states['discriminator'][0]['step']) == 4
    assert int(states['generator'][0]['step']) == 2
    ckpt = osp.join(work, 'iter_4.pth')
    saved = torch.load(ckpt, weights_only=True)
    assert set(saved['optimizer']) == {'generator', 'discriminator'}

    for it in (2, 4):
        grid = Image.open(osp.join(work, 'samples', f'iter_{it}.png'))
        # 20 samples, 10 per row (one column per class): 2 rows of 32 px
        assert grid.size == (2 + 10 * 34, 2 + 2 * 34)

    resumed = Runner.from_cfg(
        _cfg(str(tmp_path / 'resumed'), max_iters=4, resume=True,
             load_from=ckpt))
    resumed.train()  # loads the checkpoint; no iteration left to run
    assert resumed.iter == 4
    _assert_states_equal(states, _optim_state(resumed))
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key

    # and training continues from there with both optimizers
    more = Runner.from_cfg(
        _cfg(str(tmp_path / 'more'), max_iters=6, resume=True,
             load_from=ckpt))
    more.train()
    after = _optim_state(more)
    assert int(after['discriminator'][0]['step']) == 6
    assert int(after['generator'][0]['step']) == 3
