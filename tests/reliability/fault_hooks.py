"""Test only: a hook that fails on one rank, imported by the distributed
fault test's config through ``custom_imports`` (tests/reliability on
PYTHONPATH)."""
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module(force=True)
class RaiseOnRankHook(Hook):
    """Raise ``RuntimeError`` on rank ``rank`` before iteration
    ``at_iter`` (1-based)."""

    def __init__(self, rank: int = 1, at_iter: int = 2):
        self.rank, self.at_iter = rank, at_iter

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if get_rank() == self.rank and runner.iter + 1 == self.at_iter:
            raise RuntimeError(f'injected failure on rank {self.rank} at '
                               f'iteration {self.at_iter}')
