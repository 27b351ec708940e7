"""Labelled images with an unlabelled pool, k unlabelled per labelled one.

The semi-supervised protocol of DSH-GANs (spec §4.2 [I]): a limited
labelled training set and a large unlabelled pool, both read from the
usual split files. On CIFAR-10 the labelled set is the protocol's
``train`` split and the pool is its ``database`` split with the labelled
images taken out (``exclude_labelled=True``), so with protocol (b) the
pool is "the rest of the database".

:class:`SemiSupervisedDataset` is :class:`RealFakeDataset`'s pairing with
the unlabelled pool in the place of the fakes: the same stateless order
(an epoch is one pass over the labelled images; slot ``j`` of index ``i``
reads pool item ``perm_c[(i·k + j) mod U]``), the pool's labels dropped
before its pipeline. :func:`semi_supervised_collate` makes the batch
``[labelled_1 .. labelled_N, unlabelled_1 .. unlabelled_kN]``; every
sample carries the metainfo ``is_labelled`` (True / False), which the
model splits on, so pool labels never reach a label loss.
"""
from typing import Dict, Sequence, Union

from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from mmpretrain.registry import DATASETS

from .real_fake_pair import RealFakeDataset
from .transfer_pair import SOURCE

IDENTITY_KEYS = ('pool_index', 'img_path')


def _identity(info: dict, role: str):
    for key in IDENTITY_KEYS:
        if key in info:
            return key, info[key]
    raise ValueError(
        f'SemiSupervisedDataset: a {role} data info has none of '
        f'{IDENTITY_KEYS}, so labelled images cannot be excluded from the '
        'pool; set exclude_labelled=False or use a dataset that records '
        'them')


@DATASETS.register_module()
class SemiSupervisedDataset(RealFakeDataset):
    """``dataset[i] = dict(labelled=packed, unlabelled=[packed] * k)``.

    Use ``collate_fn=dict(type='semi_supervised_collate')``. A batch of N
    indices holds N labelled and ``unlabelled_per_labelled · N`` unlabelled
    images.

    Args:
        labelled (dict | Dataset): Labelled training dataset.
        unlabelled (dict | Dataset): The unlabelled pool (its labels are
            dropped before the pipeline).
        unlabelled_per_labelled (int): k. Defaults to 1.
        exclude_labelled (bool): Take the labelled images (same
            ``pool_index``, else same ``img_path``) out of the pool.
            Defaults to True.
        seed (int): Seed of the pool order. Defaults to 0.
        lazy_init (bool): Accepted for mmengine's dataset interface.

    Raises:
        ValueError: If the pool is empty after the exclusion.
    """

    ROLES = ('labelled', 'unlabelled')  # the config keys of source and target

    def __init__(self,
                 labelled: Union[dict, object],
                 unlabelled: Union[dict, object],
                 unlabelled_per_labelled: int = 1,
                 exclude_labelled: bool = True,
                 seed: int = 0,
                 lazy_init: bool = False):
        super().__init__(real=labelled, fake=unlabelled,
                         fakes_per_real=unlabelled_per_labelled, seed=seed)
        self.num_excluded = 0
        if exclude_labelled:
            self._exclude_labelled()

    @property
    def labelled(self):
        return self.source

    @property
    def unlabelled(self):
        return self.target

    def _exclude_labelled(self) -> None:
        key, _ = _identity(self.labelled.get_data_info(0), 'labelled')
        taken = {
            self.labelled.get_data_info(i)[key]
            for i in range(len(self.labelled))
        }
        keep = []
        for j in range(len(self.unlabelled)):
            info = self.unlabelled.get_data_info(j)
            if key not in info:
                raise ValueError(
                    f'SemiSupervisedDataset: labelled infos are identified '
                    f'by {key!r}, pool item {j} has no {key!r}')
            if info[key] not in taken:
                keep.append(j)
        if not keep:
            raise ValueError('SemiSupervisedDataset: the unlabelled pool is '
                             'empty once the labelled images are excluded')
        self.num_excluded = len(self.unlabelled) - len(keep)
        if self.num_excluded:
            self.unlabelled.get_subset_(keep)

    def _tagged(self, dataset, index: int, domain: int) -> dict:
        data = self._prepare(dataset, index, domain)
        data['data_samples'].set_metainfo(dict(is_labelled=domain == SOURCE))
        return data

    def __getitem__(self, idx: int) -> Dict[str, object]:
        item = super().__getitem__(idx)
        return dict(labelled=item['real'], unlabelled=item['fakes'])

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        return dict(labelled=info['real'], unlabelled=info['fakes'])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(labelled: '
                f'{type(self.labelled).__name__} ({len(self.labelled)}), '
                f'unlabelled: {type(self.unlabelled).__name__} '
                f'({len(self.unlabelled)}, {self.num_excluded} labelled '
                f'excluded), unlabelled_per_labelled={self.fakes_per_real})')


@FUNCTIONS.register_module()
def semi_supervised_collate(data_batch: Sequence[dict]) -> dict:
    """Collate N ``SemiSupervisedDataset`` items: the N labelled samples,
    then all unlabelled ones (mmengine's ``pseudo_collate``)."""
    for item in data_batch:
        if not isinstance(item, dict) or set(item) != {
                'labelled', 'unlabelled'}:
            raise TypeError('semi_supervised_collate expects '
                            'SemiSupervisedDataset items dict(labelled=..., '
                            'unlabelled=[...])')
    return pseudo_collate([item['labelled'] for item in data_batch] + [
        u for item in data_batch for u in item['unlabelled']
    ])
