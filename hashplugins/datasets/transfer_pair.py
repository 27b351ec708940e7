"""Source/target pairs for transfer hashing (TAH, METAH).

TAH's Caffe data layer reads two independently shuffled lists, 64 labelled
source and 64 unlabelled target images per iteration, and concatenates
them, source first. :class:`TransferPairDataset` gives one (source, target)
pair per index and :func:`transfer_collate` turns a batch of N pairs into
the 2N-sample batch ``[s_1 .. s_N, t_1 .. t_N]`` with a ``domain`` tag on
every sample (0 source, 1 target), which :class:`TransferHasher` splits.

Index semantics (stateless, so it behaves the same with any number of
dataloader workers, persistent or not, and under DDP):

- ``len(dataset)`` is ``max(len(source), len(target))`` (``length='max'``,
  default: one epoch shows every sample of both domains at least once) or
  ``len(source)`` (``length='source'``: an epoch is one pass over the
  labelled data; a larger target is then only partly seen per epoch).
- Index ``i`` reads source sample ``i % len(source)``; the sampler
  (``DefaultSampler(shuffle=True)``) shuffles the source order per epoch.
- Index ``i`` reads target sample ``perm_c[i % len(target)]``, where
  ``c = i // len(target)`` counts passes over the target and ``perm_c`` is
  a permutation seeded by ``(seed, c)``: the target has its own shuffled
  order, reshuffled at every pass, as the Caffe list reader does.

The pairing of index ``i`` with its target sample is fixed for a given
``seed``; because the sampler draws a fresh random set of indices for each
batch, every batch still holds a uniformly random set of target samples.
No TAH loss couples a particular source sample with a particular target
sample (the pairwise loss is over source pairs, the domain loss is per
sample), so only the batch composition matters.

Target labels: with ``drop_target_labels=True`` (default) every ``gt_*``
key of a target data info is replaced, *before* the pipeline, by an empty
label set (``gt_label`` = no class; ``PackHashInputs`` then gives an
all-zero ``gt_score``), so no target class information exists in a batch
while batch-level code that expects a label on every sample (mmpretrain's
``ClsDataPreprocessor``) still works. The model additionally never passes
target samples to a loss. Evaluation draws queries and database from the
target domain with :class:`QueryDatabaseDataset`, which keeps labels.
"""
import copy
from typing import Dict, List, Sequence, Union

import numpy as np
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from mmpretrain.registry import DATASETS

from .utils import build_dataset

SOURCE, TARGET = 0, 1
LENGTHS = ('max', 'source')


def _build(cfg, role: str, owner: str = 'TransferPairDataset'):
    dataset = build_dataset(cfg, owner, role)
    if not callable(getattr(dataset, 'pipeline', None)):
        raise TypeError(f'{owner}: the {role} dataset '
                        f'({type(dataset).__name__}) has no pipeline; use '
                        'mmengine BaseDataset subclasses')
    return dataset


@DATASETS.register_module()
class TransferPairDataset:
    """A labelled source sample and an unlabelled target sample per index.

    ``dataset[i]`` is ``dict(source=packed, target=packed)``, each packed
    by its own dataset's pipeline (so the domains may differ in size and
    preprocessing, e.g. USPS resized to MNIST's size); the data infos get
    ``domain`` = 0 / 1 before the pipeline (keep ``PackHashInputs``, which
    carries ``domain`` into the metainfo). Use the dataloader setting
    ``collate_fn=dict(type='transfer_collate')``. See the module docstring
    for length, epoch and target-order semantics.

    Args:
        source (dict | Dataset): Labelled source dataset (or its config).
        target (dict | Dataset): Target dataset (or its config); its labels
            are dropped unless ``drop_target_labels=False``.
        seed (int): Seed of the target permutations. Defaults to 0.
        length (str): ``'max'`` (default) or ``'source'``.
        drop_target_labels (bool): Replace the labels of target samples by
            an empty label set. Defaults to True.
        lazy_init (bool): Accepted for mmengine's dataset interface; the
            sub-datasets are always built fully.

    Raises:
        ValueError: If source and target name different classes, or a
            sub-dataset's own ``domain_id`` contradicts its role.
    """

    ROLES = ('source', 'target')  # the config keys of source and target

    def __init__(self,
                 source: Union[dict, object],
                 target: Union[dict, object],
                 seed: int = 0,
                 length: str = 'max',
                 drop_target_labels: bool = True,
                 lazy_init: bool = False):
        if length not in LENGTHS:
            raise ValueError(f'TransferPairDataset: length={length!r} is not '
                             f'one of {LENGTHS}')
        # Errors name the subclass's own keys (e.g. labelled/unlabelled).
        owner = type(self).__name__
        self.source = _build(source, self.ROLES[0], owner)
        self.target = _build(target, self.ROLES[1], owner)
        s_classes = self.source.metainfo.get('classes')
        t_classes = self.target.metainfo.get('classes')
        if s_classes is not None and t_classes is not None and tuple(
                s_classes) != tuple(t_classes):
            raise ValueError(
                'TransferPairDataset: source and target have different '
                f'classes: source {tuple(s_classes)}, target '
                f'{tuple(t_classes)}; transfer retrieval needs one label '
                'space')
        self.seed = int(seed)
        self.length = length
        self.drop_target_labels = drop_target_labels
        self._perms: Dict[int, np.ndarray] = {}

    @property
    def metainfo(self) -> dict:
        """The source dataset's metainfo."""
        return copy.deepcopy(self.source.metainfo)

    def full_init(self) -> None:
        """Sub-datasets are fully initialised on construction."""

    def __len__(self) -> int:
        if self.length == 'source':
            return len(self.source)
        return max(len(self.source), len(self.target))

    def _check_index(self, idx: int) -> int:
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f'TransferPairDataset index {idx} out of range '
                             f'for {n} pairs')
        return idx % n

    def source_index(self, idx: int) -> int:
        """Index in the source dataset of pair ``idx``."""
        return self._check_index(idx) % len(self.source)

    def target_index(self, idx: int) -> int:
        """Index in the target dataset of pair ``idx``."""
        cycle, pos = divmod(self._check_index(idx), len(self.target))
        perm = self._perms.get(cycle)
        if perm is None:
            perm = np.random.RandomState([self.seed, cycle
                                          ]).permutation(len(self.target))
            self._perms[cycle] = perm
        return int(perm[pos])

    def _prepare(self, dataset, index: int, domain: int) -> dict:
        info = dataset.get_data_info(index)
        role = 'source' if domain == SOURCE else 'target'
        if 'domain' in info and info['domain'] != domain:
            raise ValueError(
                f'TransferPairDataset: the {role} dataset tags its samples '
                f"domain={info['domain']!r}, but {role} is domain {domain}; "
                'drop its domain_id or set it to match')
        info['domain'] = domain
        if domain == TARGET and self.drop_target_labels:
            for key in [k for k in info if k.startswith('gt_')]:
                del info[key]
            # An empty label set, not a missing one: mmpretrain's
            # ClsDataPreprocessor batches gt_label/gt_score of every sample
            # once the first (source) sample has them.
            info['gt_label'] = np.zeros(0, dtype=np.int64)
        data = dataset.pipeline(info)
        if data is None:
            raise RuntimeError(
                f'TransferPairDataset: the {role} pipeline returned None for '
                f'{role} sample {index}; transfer batches cannot skip samples')
        return data

    def __getitem__(self, idx: int) -> dict:
        return dict(
            source=self._prepare(self.source, self.source_index(idx), SOURCE),
            target=self._prepare(self.target, self.target_index(idx), TARGET))

    def get_data_info(self, idx: int) -> dict:
        """Both data infos (before tagging), keyed ``source``/``target``."""
        return dict(
            source=self.source.get_data_info(self.source_index(idx)),
            target=self.target.get_data_info(self.target_index(idx)))

    def get_cat_ids(self, idx: int) -> List[int]:
        """Category ids of the *source* sample of pair ``idx``."""
        return self.source.get_cat_ids(self.source_index(idx))

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(pairs: {len(self)}, length='
                f'{self.length!r}, seed={self.seed})\n'
                f'  source: {type(self.source).__name__} ({len(self.source)})'
                f'\n  target: {type(self.target).__name__} '
                f'({len(self.target)}), labels '
                f"{'dropped' if self.drop_target_labels else 'kept'}")


@FUNCTIONS.register_module()
def transfer_collate(data_batch: Sequence[dict]) -> dict:
    """Collate N ``TransferPairDataset`` items into one 2N batch, the N
    source samples first, then the N target samples (mmengine's
    ``pseudo_collate`` on the reordered list).
    """
    for item in data_batch:
        if not isinstance(item, dict) or set(item) != {'source', 'target'}:
            raise TypeError(
                'transfer_collate expects TransferPairDataset items '
                "dict(source=..., target=...), got "
                f'{type(item).__name__} with keys '
                f'{sorted(item) if isinstance(item, dict) else None}')
    return pseudo_collate([item['source'] for item in data_batch] +
                          [item['target'] for item in data_batch])
