"""Drive DADH's discrete step: attach the training set, tell the model the
training progress (for the stream alternation), update B between epochs."""
import time
from typing import Optional, Tuple

import numpy as np
import torch
from mmengine.dist import broadcast, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

MODEL_API = ('attach_training_set', 'matches_training_set',
             'set_train_progress', 'update_codes')


def training_set_labels(dataset,
                        num_classes: Optional[int] = None,
                        id_key: Optional[str] = None
                        ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Multi-hot labels (and ids) of every item of a training dataset.

    Row i belongs to ``dataset[i]``, i.e. to ``sample_idx = i``.

    Args:
        dataset: An mmengine ``BaseDataset`` (``get_data_info`` with
            ``gt_label`` as a class index or a list of indices).
        num_classes (int, optional): Label width; default max index + 1.
        id_key (str, optional): Data-info key of an integer id to collect
            (e.g. ``'pool_index'``); -1 where an item has none.

    Returns:
        tuple: (N, C) float labels and (N,) long ids (None if no id_key).
    """
    indices, ids = [], []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        if 'gt_label' not in info:
            raise KeyError(f'training item {i} of {type(dataset).__name__} '
                           'has no gt_label: DADH is supervised')
        indices.append(np.asarray(info['gt_label'], dtype=np.int64).ravel())
        if id_key is not None:
            ids.append(int(info.get(id_key, -1)))
    largest = max((int(x.max()) for x in indices if x.size), default=-1)
    width = num_classes if num_classes is not None else largest + 1
    if largest >= width:
        raise ValueError(f'a training label index is {largest}, but '
                         f'num_classes={num_classes}')
    labels = torch.zeros(len(indices), width)
    for row, idx in enumerate(indices):
        labels[row, torch.from_numpy(idx)] = 1.
    return labels, (torch.tensor(ids, dtype=torch.long)
                    if id_key is not None else None)


@HOOKS.register_module()
class DADHCodeUpdateHook(Hook):
    """Attach the training set, drive the alternation, and run the B-step.

    * ``before_train`` (after ``--resume`` has loaded B and the buffers):
      gives the model the labels (and ids) of the training set; a fresh
      model initialises B, a resumed one is checked to hold the same set.
    * ``before_train_iter``: ``model.set_train_progress(epoch, iter)``.
    * every ``interval`` epochs (``after_train_epoch``) or, with
      ``by_epoch=False``, every ``interval`` iterations
      (``after_train_iter``): ``model.update_codes`` (DCC or closed form),
      logging J before/after, the bits changed and the time. Runs before
      the checkpoint hook, so checkpoints hold the new B.

    Args:
        interval (int): Epochs (or iterations) between B-steps. With
            ``alternation='epoch'`` an interval of 2 epochs gives the
            outer loop {f epoch; g epoch; B-step}. Defaults to 1.
        by_epoch (bool): Count ``interval`` in epochs; False counts
            iterations (the third-party DADH code updates B after every
            batch). Defaults to True.
        method (str): ``'dcc'`` (default) or ``'closed_form'``.
        sweeps (int): DCC passes over the bits. Defaults to 1.
        block_size (int): Label-pattern block size. Defaults to 1024.
    """

    priority = 'NORMAL'  # before CheckpointHook (VERY_LOW)

    def __init__(self,
                 interval: int = 1,
                 by_epoch: bool = True,
                 method: str = 'dcc',
                 sweeps: int = 1,
                 block_size: int = 1024):
        if interval < 1 or sweeps < 1 or block_size < 1:
            raise ValueError('DADHCodeUpdateHook: interval, sweeps and '
                             'block_size must be >= 1, got '
                             f'{interval}, {sweeps}, {block_size}')
        if method not in ('dcc', 'closed_form'):
            raise ValueError("DADHCodeUpdateHook: method must be 'dcc' or "
                             f"'closed_form', got {method!r}")
        self.interval = interval
        self.by_epoch = by_epoch
        self.method = method
        self.sweeps = sweeps
        self.block_size = block_size

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        missing = [name for name in MODEL_API if not hasattr(model, name)]
        if missing:
            raise TypeError(f'DADHCodeUpdateHook needs a model with '
                            f'{missing} (e.g. DualAsymmetricHasher), got '
                            f'{type(model).__name__}')
        return model

    def before_train(self, runner) -> None:
        model = self._model(runner)
        id_key = model.id_key if model.learned_database_codes else None
        labels, ids = training_set_labels(runner.train_dataloader.dataset,
                                          model.num_classes, id_key)
        if model.num_train and not model.matches_training_set(labels, ids):
            message = (f'the model holds codes for {model.num_train} training '
                       f'items that are not this training set '
                       f'({len(labels)} items, or different labels)')
            if runner.cfg.get('resume', False):
                raise ValueError(f'--resume: {message}; resume with the '
                                 'same dataset config')
            runner.logger.warning(f'{message}; B and the buffers are '
                                  're-initialised')
        if model.attach_training_set(labels, ids):
            runner.logger.info(f'DADH: initialised codes B for '
                               f'{len(labels)} training items, '
                               f'{model.num_bits} bits')

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        self._model(runner).set_train_progress(runner.epoch, runner.iter)

    def after_train_epoch(self, runner) -> None:
        if self.by_epoch and self.every_n_epochs(runner, self.interval):
            self._update(runner, f'epoch {runner.epoch + 1}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        if not self.by_epoch and self.every_n_train_iters(
                runner, self.interval):
            self._update(runner, f'iteration {runner.iter + 1}')

    def _update(self, runner, when: str) -> None:
        model = self._model(runner)
        start = time.perf_counter()
        stats = model.update_codes(self.method, self.sweeps, self.block_size)
        if get_world_size() > 1:
            # Identical inputs on every rank; rank 0's B makes it bit-exact.
            broadcast(model.code_bank.codes, 0)
        stats['seconds'] = time.perf_counter() - start
        if not self.by_epoch:
            # Frequent B-steps: their numbers go out with the logger hook's
            # training lines (its interval), not a line each.
            for key, value in stats.items():
                runner.message_hub.update_scalar(f'train/dadh_{key}', value)
            return
        runner.logger.info(
            f'DADH B-step ({self.method}, {self.sweeps} sweep(s)) after {when}'
            f': J {stats["objective_before"]:.6g} -> '
            f'{stats["objective_after"]:.6g}, {stats["changed_bits"]:.2%} '
            f'bits changed, {stats["seconds"]:.2f} s')
        runner.visualizer.add_scalars(
            {f'dadh/{key}': value
             for key, value in stats.items()},
            step=runner.iter)
