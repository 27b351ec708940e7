"""Refuse a training batch too small for the model's pairwise or triplet
losses, before the first iteration.

A pairwise loss over a batch of one sample has no pair: DPSH trained with
``train_dataloader.batch_size=1`` ended at mAP 0.105 (random codes) without
a message. Losses say how many samples they need with a class attribute,

.. code-block:: python

    class MyPairwiseLoss(nn.Module):
        min_samples_per_batch = 2   # pairs within the batch it is given

and a module that hands its losses the global batch (all ranks' samples)
says so with a true ``gather_across_ranks`` attribute (``HashHead``). This
hook compares each need with the samples the loss sees: the train
dataloader's ``batch_size``, times the world size under such a module. No
method is named here.
"""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

#: The attribute a loss (any module) declares its need with.
ATTRIBUTE = 'min_samples_per_batch'
#: The attribute of a module whose losses see the global batch.
GATHERS = 'gather_across_ranks'


def batch_size_of(dataloader):
    """Samples per batch of ``dataloader`` (its ``batch_size``, or its
    batch sampler's), or None if it does not say."""
    size = getattr(dataloader, 'batch_size', None)
    if size is None:
        size = getattr(getattr(dataloader, 'batch_sampler', None),
                       'batch_size', None)
    return size


def pair_needs(model):
    """``[(module name, class name, samples needed, global batch)]`` of the
    modules of ``model`` that declare :data:`ATTRIBUTE` above 1 (losses
    switched off with ``loss_weight == 0`` skipped); ``global batch``: an
    enclosing module has a true :data:`GATHERS`."""
    modules = dict(model.named_modules())
    needs = []
    for name, module in modules.items():
        need = getattr(module, ATTRIBUTE, None)
        if not isinstance(need, int) or need < 2:
            continue
        weight = getattr(module, 'loss_weight', 1)
        if isinstance(weight, (int, float)) and weight == 0:
            continue
        parts = name.split('.')
        ancestors = ['.'.join(parts[:i]) for i in range(len(parts))]
        gathered = any(
            getattr(modules.get(a), GATHERS, False) is True
            for a in ancestors)
        needs.append((name, type(module).__name__, need, gathered))
    return needs


@HOOKS.register_module()
class BatchSizeCheckHook(Hook):
    """Raise ``ValueError`` when training starts with fewer samples per
    batch than a loss of the model needs (``min_samples_per_batch``).

    A loss sees the global batch (``batch_size`` x world size) when an
    enclosing module gathers it across ranks (``gather_across_ranks=True``,
    ``HashHead``'s default), else the batch of its own rank. A default hook
    of ``configs/_base_/default_runtime.py``
    (``default_hooks.batch_size_check``; None removes it).
    """

    priority = 'VERY_HIGH'  # before any hook acts on a doomed run

    def before_train(self, runner) -> None:
        size = batch_size_of(runner.train_dataloader)
        if size is None:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        world = runner.world_size
        short = [(name, kind, need, gathered)
                 for name, kind, need, gathered in pair_needs(model)
                 if need > size * (world if gathered else 1)]
        if not short:
            return
        name, kind, need, gathered = max(short, key=lambda n: n[2])
        if gathered:
            seen = (f'the global batch (batch_size x {world} rank(s) = '
                    f'{size * world} samples)')
            fix = (f'train_dataloader.batch_size x world size to at least '
                   f'{need} (batch_size >= {-(-need // world)} with {world} '
                   'rank(s))')
        else:
            seen = (f'the batch of each rank ({size} samples; its module '
                    'does not gather the ranks\' samples)')
            fix = f'train_dataloader.batch_size to at least {need}'
        raise ValueError(
            f'train_dataloader.batch_size={size}, but model.{name} '
            f'({kind}) forms its pairs/triplets within {seen} and needs at '
            f'least {need}: with fewer it has nothing to learn from and the '
            f'codes stay random. Set {fix}.')
