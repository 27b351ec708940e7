"""Make each epoch's (or iteration's) randomness independent of history,
so that a resumed run draws the same random numbers as an uninterrupted
one."""
import hashlib
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.runner import EpochBasedTrainLoop
from mmpretrain.registry import HOOKS


def step_seed(base_seed: int, step: int, rank: int = 0) -> int:
    """A 32-bit seed for ``step`` derived from the run's seed (and rank)."""
    digest = hashlib.sha256(f'{base_seed}:{step}:{rank}'.encode()).digest()
    return int.from_bytes(digest[:4], 'little')


@HOOKS.register_module()
class StepReseedHook(Hook):
    """Reseed python, numpy and torch at the start of every training epoch
    (epoch-based loops) or iteration (other loops) from (seed, step).

    mmengine seeds the RNGs once, when the Runner is built, and does not
    store their states in checkpoints; so after ``--resume`` everything that
    draws random numbers (GAN noise, dropout, random column sampling,
    random augmentations, data-loader worker seeds) continues from a
    different stream than the uninterrupted run would have, and the
    resumed result differs. Reseeding from (seed, step) makes the random
    numbers of step ``t`` the same whether or not the run was interrupted
    before ``t``, which is what makes kill-and-resume bit-exact on CPU
    (``tests/reliability/test_kill_resume.py``).

    Limitation (iteration-based loops only): the first batch after a resume
    is loaded before the first reseed, so a random augmentation applied to
    it in the main process (``num_workers=0``) differs.

    ``tools/train.py`` adds this hook unless the config lists it itself or
    sets ``step_reseed = False``. Ranks get different seeds when
    ``randomness.diff_rank_seed`` is True, as mmengine does.
    """

    priority = 'HIGHEST'

    def before_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, EpochBasedTrainLoop):
            self._reseed(runner, runner.epoch)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        if not isinstance(runner.train_loop, EpochBasedTrainLoop):
            self._reseed(runner, runner.iter)

    @staticmethod
    def _reseed(runner, step: int) -> None:
        base = runner.seed if runner.seed is not None else 0
        diff_rank = runner._randomness_cfg.get('diff_rank_seed', False)
        seed = step_seed(base, step, get_rank() if diff_rank else 0)
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)  # also seeds every CUDA device
