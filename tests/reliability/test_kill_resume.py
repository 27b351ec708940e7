"""Kill a training run in the middle of an epoch (a signal to the process,
after a checkpoint exists), resume it with ``tools/train.py --resume`` and
get bit-identical final weights, optimizer states, method state and
metrics to an uninterrupted run: DPSH (one optimizer), DADH (code bank B,
labels, stream buffers, two optimizers) and HashingGAN (two optimizers,
random noise every step).

Bit-exact is achievable here because the runs are single-threaded CPU,
seeded, and ``tools/train.py`` adds :class:`StepReseedHook` (the random
numbers of every epoch/iteration depend only on the seed and the step,
not on whether the run was interrupted before it).
"""
import os.path as osp
import signal

import pytest
from mmengine.config import Config

from harness import (assert_same_tensors, checkpoint, logged_metrics, train,
                     train_and_kill, write_config)

METRIC = 'hashing/mAP@all'
PIPELINE = [dict(type='Resize', scale=(32, 32)),
            dict(type='PackHashInputs', num_classes=10)]
MNIST5K = dict(type='MNIST5kHashing', three_channels=False)


pytestmark = pytest.mark.usefixtures('warm_runner')


def _small_val(num_query=40, num_db=160):
    return dict(
        val_dataloader=dict(
            batch_size=100, num_workers=0,
            dataset=dict(
                type='QueryDatabaseDataset',
                query=dict(**MNIST5K, split='query', indices=num_query),
                database=dict(**MNIST5K, split='database', indices=num_db),
                pipeline=PIPELINE),
            sampler=dict(type='DefaultSampler', shuffle=False)),
        val_evaluator=dict(type='HammingRetrievalMetric', items=('mAP', ),
                           topk=(None, )),
        val_cfg=dict())


def _kill_resume(tmp_path, config, at_iter, sig):
    """Uninterrupted run, and a run killed after ``at_iter`` then resumed;
    returns their work dirs."""
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    train(config, straight)
    epoch, it = train_and_kill(config, resumed, at_iter, sig)
    log = train(config, resumed, '--resume')
    assert 'resumed epoch' in log or 'resumed iter' in log, log
    return straight, resumed, epoch


def _assert_same_state(a_path, b_path):
    a, b = checkpoint(a_path), checkpoint(b_path)
    assert_same_tensors(a['state_dict'], b['state_dict'], 'state_dict')
    assert_same_tensors(a['optimizer'], b['optimizer'], 'optimizer')
    assert a['meta']['epoch'] == b['meta']['epoch']
    assert a['meta']['iter'] == b['meta']['iter']


def test_dpsh_killed_mid_epoch_resumes_bit_exact(tmp_path, repo_root):
    """The quickstart config on 256 digits, 8 iterations an epoch,
    3 epochs; SIGKILL after iteration 12 (epoch 2, 4 of 8)."""
    cfg = Config.fromfile(osp.join(repo_root, 'configs', 'dpsh',
                                   'dpsh_lenet5_mnist5k_16bit.py'))
    cfg.merge_from_dict({
        'train_dataloader.batch_size': 32,
        'train_dataloader.dataset.indices': 256,
        'train_cfg.max_epochs': 3, 'train_cfg.val_interval': 3,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.max_keep_ckpts': -1,
        **_small_val()})
    config = write_config(cfg, tmp_path / 'dpsh.py')
    straight, resumed, epoch = _kill_resume(tmp_path, config, 12,
                                            signal.SIGKILL)
    assert epoch == 1  # 0-based: killed in the second epoch
    _assert_same_state(straight / 'epoch_3.pth', resumed / 'epoch_3.pth')
    ref, got = logged_metrics(straight, METRIC), logged_metrics(
        resumed, METRIC)
    assert len(ref) == len(got) == 1 and ref == got and ref[0] > 0.1


def _dadh_stream():
    return dict(backbone=dict(type='LeNet5'),
                head=dict(type='HashHead', in_channels=120, num_bits=8,
                          activation='identity'))


def test_dadh_killed_mid_epoch_resumes_bit_exact(tmp_path):
    """DADH with B-steps after every epoch, alternating streams per
    iteration and random column sampling (so the RNG matters): SIGTERM
    after iteration 6 (epoch 2, 2 of 4). B, the stream buffers, labels,
    ids, both optimizers and the metric equal the uninterrupted run's."""
    cfg = dict(
        _base_=[osp.join(osp.dirname(osp.dirname(osp.dirname(
            osp.abspath(__file__)))), 'configs', '_base_',
            'default_runtime.py')],
        model=dict(
            type='DualAsymmetricHasher',
            data_preprocessor=dict(type='ClsDataPreprocessor', mean=[33.3],
                                   std=[78.6]),
            stream_f=_dadh_stream(), stream_g=_dadh_stream(), num_classes=10,
            code_loss=dict(type='AsymmetricInnerProductLoss',
                           similarity='balanced'),
            alternation='iter', column_sample=64),
        train_dataloader=dict(
            batch_size=32, num_workers=0,
            dataset=dict(**MNIST5K, split='train', indices=128,
                         pipeline=PIPELINE),
            sampler=dict(type='DefaultSampler', shuffle=True)),
        train_cfg=dict(by_epoch=True, max_epochs=3, val_interval=3),
        optim_wrapper=dict(
            constructor='MultiOptimWrapperConstructor',
            stream_f=dict(optimizer=dict(type='Adam', lr=1e-3)),
            stream_g=dict(optimizer=dict(type='Adam', lr=1e-3))),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1,
                            max_keep_ckpts=-1),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='WeightsOnlyCheckpointHook'),
                      dict(type='DADHCodeUpdateHook', interval=1)],
        **_small_val())
    tmp_cfg = tmp_path / 'dadh_src.py'
    write_config(cfg, tmp_cfg)
    config = write_config(Config.fromfile(str(tmp_cfg)), tmp_path / 'dadh.py')
    straight, resumed, epoch = _kill_resume(tmp_path, config, 6,
                                            signal.SIGTERM)
    assert epoch == 1
    _assert_same_state(straight / 'epoch_3.pth', resumed / 'epoch_3.pth')
    state = checkpoint(resumed / 'epoch_3.pth')['state_dict']
    assert state['code_bank.codes'].shape == (128, 8)
    assert logged_metrics(straight, METRIC) == logged_metrics(
        resumed, METRIC)


def test_gan_killed_mid_run_resumes_bit_exact(tmp_path, repo_root):
    """HashingGAN (iteration-based, 2 discriminator steps per generator
    step, fresh noise every step): checkpoint at iteration 4, SIGKILL after
    iteration 6, resume to 8: weights and both Adam states equal the
    uninterrupted run's."""
    gan = dict(
        type='HashingGAN',
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[127.5],
                               std=[127.5]),
        generator=dict(type='DCGANGenerator', out_size=32, noise_size=16,
                       base_channels=8, out_channels=1, num_classes=10),
        discriminator=dict(type='DCGANDiscriminator', in_size=32,
                           in_channels=1, base_channels=8, num_classes=10,
                           conditioning='ac'),
        disc_steps=2)
    adam = dict(optimizer=dict(type='Adam', lr=2e-4, betas=(0.5, 0.999)))
    cfg = dict(
        _base_=[osp.join(repo_root, 'configs', '_base_',
                         'default_runtime.py')],
        model=gan,
        train_dataloader=dict(
            batch_size=8, num_workers=0,
            dataset=dict(**MNIST5K, split='train', indices=32,
                         pipeline=PIPELINE),
            sampler=dict(type='InfiniteSampler', shuffle=True)),
        train_cfg=dict(by_epoch=False, max_iters=8),
        optim_wrapper=dict(constructor='MultiOptimWrapperConstructor',
                           generator=adam, discriminator=adam),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=4,
                            by_epoch=False, max_keep_ckpts=-1),
            logger=dict(type='LoggerHook', interval=1)))
    write_config(cfg, tmp_path / 'gan_src.py')
    config = write_config(Config.fromfile(str(tmp_path / 'gan_src.py')),
                          tmp_path / 'gan.py')
    straight, resumed, _ = _kill_resume(tmp_path, config, 6, signal.SIGKILL)
    _assert_same_state(straight / 'iter_8.pth', resumed / 'iter_8.pth')
    optim = checkpoint(resumed / 'iter_8.pth')['optimizer']
    assert set(optim) == {'generator', 'discriminator'}
