"""Numbers that are what they say (issue #18, item 4): mAP@K with K above
the database size is refused (or, asked for, reported as mAP@all); a
pairwise or triplet loss with too few samples per batch is refused when
training starts; ``--resume`` says which optimizer and scheduler settings
of the config the checkpoint overrode. Real Runner, the LeNet-5 DPSH
quickstart config on a few MNIST digits."""
import glob
import importlib.util
import os
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from hashplugins.engine.runner import add_reliability_hooks
from hashplugins.evaluation.functional import (hamming_retrieval_metrics,
                                               mean_average_precision,
                                               save_codes)
from hashplugins.evaluation.functional.codes import pack_codes

from harness import REPO_ROOT, run_forked_ranks

CONFIG = osp.join(REPO_ROOT, 'configs', 'dpsh', 'dpsh_lenet5_mnist5k_16bit.py')

# ---------------------------------------------------------------- mAP@K


def _problem():
    rng = np.random.default_rng(0)
    q = rng.choice([-1, 1], (3, 8)).astype(np.int8)
    d = rng.choice([-1, 1], (5, 8)).astype(np.int8)
    return q, d, np.eye(2, dtype=np.uint8)[[0, 1, 0]], \
        np.eye(2, dtype=np.uint8)[[0, 1, 1, 0, 1]]


def _eval_codes():
    spec = importlib.util.spec_from_file_location(
        'eval_codes', osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                               'eval_codes.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eval_codes_refuses_topk_above_the_database(tmp_path, capsys):
    """Was: 'mAP@10' printed for a 5-item database (it is mAP@all)."""
    q, d, ql, dl = _problem()
    path = str(tmp_path / 'codes.npz')
    save_codes(path, pack_codes(q), pack_codes(d), ql, dl, 8)
    eval_codes = _eval_codes()
    with pytest.raises(SystemExit) as err:
        eval_codes.main([path, '--topk', 'all', '10'])
    assert str(err.value) == (
        f'eval_codes.py: --topk 10 is larger than the database of {path} '
        '(5 items), so mAP@10 would be mAP@all; use --topk all, a K of at '
        'most 5, or --clamp-topk to report it as mAP@all')
    capsys.readouterr()
    eval_codes.main([path, '--topk', '10', '3', '--clamp-topk'])
    out = capsys.readouterr().out
    assert 'reported as mAP@all' in out
    assert 'mAP@all' in out and 'mAP@3' in out and 'mAP@10' not in out


def test_functional_apis_refuse_topk_above_the_database():
    q, d, ql, dl = _problem()
    for call in (
            lambda **kw: mean_average_precision(q, d, ql, dl, 6, **kw),
            lambda **kw: hamming_retrieval_metrics(
                q, d, ql, dl, topk=(None, 6), **kw)['mAP@6']):
        with pytest.raises(ValueError, match=r'topk=6 is larger than the '
                           r'database \(5 items\), so mAP@6 would be '
                           r'mAP@all'):
            call()
        # the reference loops' convention, on request: K cut to N
        assert call(topk_beyond_database='clamp') == \
            mean_average_precision(q, d, ql, dl, None)
    assert mean_average_precision(q, d, ql, dl, 5) == \
        mean_average_precision(q, d, ql, dl, None)  # K = N is mAP@N

# ---------------------------------------------------------------- batches


def _cfg(tmp_path, name, **options):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict({
        'work_dir': str(tmp_path / name), 'experiment_name': name,
        'log_level': 'WARNING',
        'train_dataloader.dataset.indices': 8,
        'train_dataloader.batch_size': 4,
        'train_cfg.max_epochs': 1, 'val_cfg': None, 'val_dataloader': None,
        'val_evaluator': None, **options})
    add_reliability_hooks(cfg)  # as tools/train.py does
    return cfg


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


@MODELS.register_module(force=True)
class FourSampleLoss(nn.Module):
    """Test only: a user's loss that needs 4 samples per batch."""
    min_samples_per_batch = 4

    def forward(self, codes, labels):
        return codes.sum() * 0.


@pytest.mark.parametrize('batch_size,loss,need', [
    (1, None, 2),  # the config's PairwiseLogisticLoss
    (2, dict(type='TripletRankingLoss'), 3),
    (3, dict(type='FourSampleLoss'), 4),
])
def test_batch_too_small_for_the_pair_loss_is_refused(tmp_path, batch_size,
                                                      loss, need):
    """Was (batch_size=1): DPSH trained to random codes, mAP 0.105, no
    message."""
    torch.set_num_threads(1)
    options = {'train_dataloader.batch_size': batch_size}
    if loss is not None:
        options['model.head.losses.pairwise'] = dict(loss, _delete_=True)
    cfg = _cfg(tmp_path, 'small_batch', **options)
    kind = (loss or dict(type='PairwiseLogisticLoss'))['type']
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError) as err:
        runner.train()
    assert str(err.value) == (
        f'train_dataloader.batch_size={batch_size}, but '
        f'model.head.losses.pairwise ({kind}) forms its pairs/triplets '
        f'within the global batch (batch_size x 1 rank(s) = {batch_size} '
        f'samples) and needs at least {need}: with fewer it has nothing to '
        'learn from and the codes stay random. Set train_dataloader.'
        f'batch_size x world size to at least {need} (batch_size >= {need} '
        'with 1 rank(s)).')
    assert runner.iter == 0


def test_batch_of_a_rank_that_does_not_gather_is_refused(tmp_path):
    cfg = _cfg(tmp_path, 'own_batch', **{
        'train_dataloader.batch_size': 1,
        'model.head.gather_across_ranks': False})
    with pytest.raises(ValueError, match=r'within the batch of each rank '
                       r'\(1 samples; its module does not gather the '
                       r"ranks' samples\) and needs at least 2.*Set "
                       r'train_dataloader.batch_size to at least 2\.$'):
        Runner.from_cfg(cfg).train()


def _ddp_worker(rank, world_size, port, work_dir, loss):
    from hashplugins.engine.runner import build_runner
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size))
    options = {'train_dataloader.batch_size': 1, 'launcher': 'pytorch'}
    if loss is not None:
        options['model.head.losses.pairwise'] = dict(loss, _delete_=True)
    cfg = _cfg(work_dir, 'ddp', **options)
    runner = build_runner(cfg, 'pytorch', train=True)  # as tools/train.py
    try:
        runner.train()
        return f'trained {runner.iter} iterations'
    except ValueError as err:
        return str(err)


def test_global_batch_counts_every_rank():
    """HashHead gathers the ranks' samples: 2 ranks x batch_size 1 give a
    pair (DPSH trains), not a triplet (refused, naming both numbers)."""
    import tempfile
    with tempfile.TemporaryDirectory() as work:
        pair = run_forked_ranks(_ddp_worker, 2, Path(work) / 'a', None)
        triplet = run_forked_ranks(_ddp_worker, 2, Path(work) / 'b',
                                   dict(type='TripletRankingLoss'))
    assert pair == ['trained 4 iterations'] * 2  # 8 digits, 1 per rank
    for message in triplet:
        assert 'within the global batch (batch_size x 2 rank(s) = 2 ' \
            'samples) and needs at least 3' in message, message
        assert message.endswith('to at least 3 (batch_size >= 2 with 2 '
                                'rank(s)).')


def test_batch_of_one_trains_without_a_pair_loss(tmp_path):
    torch.set_num_threads(1)
    _train(_cfg(tmp_path, 'no_pairs', **{
        'train_dataloader.batch_size': 1,
        'model.head.losses.pairwise.loss_weight': 0.}))  # switched off

# ---------------------------------------------------------------- resume


def _log(runner) -> str:
    files = glob.glob(osp.join(runner.log_dir, '*.log'))
    assert files, runner.log_dir
    return open(files[0]).read()


def test_resume_says_which_settings_the_checkpoint_overrode(tmp_path):
    """Was: --resume with lr 0.05 in the config trained on with the
    checkpoint's 0.01, silently (and a raised max_epochs kept the
    schedule's old end)."""
    torch.set_num_threads(1)

    def run(name, resume_from=None, end=10, **options):
        # own work_dirs (and so log files): --resume PATH
        if resume_from is not None:
            options.update(resume=True, load_from=resume_from)
        if end is not None:
            options['param_scheduler.end'] = end
        return _train(_cfg(tmp_path, name, **options))

    first = run('first')
    ckpt = osp.join(first.work_dir, 'epoch_1.pth')
    changed = run('changed', ckpt, **{
        'train_cfg.max_epochs': 2, 'optim_wrapper.optimizer.lr': 0.05,
        'param_scheduler.T_max': 20})
    log = _log(changed)
    assert f'--resume from {ckpt} overrode the config\'s optimizer/'\
        'scheduler settings with the checkpoint\'s' in log
    assert 'optim_wrapper param group 0: lr (base) 0.05 in the config, ' \
        '0.01 from the checkpoint; param_scheduler[0] (CosineAnnealingLR): ' \
        'T_max 20 in the config, 10 from the checkpoint. ' in log
    assert 'load_from=CHECKPOINT without --resume' in log
    # what the message says is what happened
    assert changed.optim_wrapper.optimizer.param_groups[0][
        'initial_lr'] == 0.01
    assert changed.param_schedulers[0].T_max == 10
    ckpt2 = osp.join(changed.work_dir, 'epoch_2.pth')
    same = run('same', ckpt2, **{'train_cfg.max_epochs': 3})
    assert 'overrode' not in _log(same)
    # without an end, a scheduler ends at max_epochs: raising it to train
    # on keeps the checkpoint's end
    longer = run('longer', ckpt2, end=None, **{'train_cfg.max_epochs': 4})
    assert "param_scheduler[0] (CosineAnnealingLR): end 4 in the config, " \
        "10 from the checkpoint (a scheduler without end in the config " \
        "ends at train_cfg.max_epochs" in _log(longer)
