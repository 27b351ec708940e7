"""Real labelled images with GAN fakes, k fakes per real image (ganreg).

:class:`RealFakeDataset` is :class:`TransferPairDataset`'s pairing with
the real dataset as the source and a fake source (a
:class:`FakeImageBank` or a :class:`GeneratedFakeDataset`) as the target,
``length='source'`` (an epoch is one pass over the real images) and
labels of fakes always dropped; it adds ``fakes_per_real`` fakes per
index. :func:`real_fake_collate` makes the batch ``[real_1 .. real_N,
fake_1 .. fake_kN]``; every sample carries the metainfo ``is_fake``
(False / True) and ``domain`` (0 / 1), which the hasher splits on, so
fakes never reach a supervised loss.

Fake order: slot ``j`` of index ``i`` reads fake ``perm_c[v mod F]`` with
``v = i·k + j``, ``c = v // F`` and ``perm_c`` a permutation of the F fakes
seeded by ``(seed, c)`` (stateless, as the parent's target order).
"""
from typing import Dict, List, Sequence, Union

import numpy as np
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from mmpretrain.registry import DATASETS

from .transfer_pair import SOURCE, TARGET, TransferPairDataset


@DATASETS.register_module()
class RealFakeDataset(TransferPairDataset):
    """``dataset[i] = dict(real=packed, fakes=[packed] * fakes_per_real)``.

    Use ``collate_fn=dict(type='real_fake_collate')``. A batch of N
    indices holds N real and ``fakes_per_real · N`` fake images: the
    real:fake ratio per batch is ``1 : fakes_per_real``.

    Args:
        real (dict | Dataset): Labelled real dataset.
        fake (dict | Dataset): Fake dataset (labels are dropped).
        fakes_per_real (int): Fakes per real image. Defaults to 1.
        seed (int): Seed of the fake order. Defaults to 0.
        lazy_init (bool): Accepted for mmengine's dataset interface.
    """

    ROLES = ('real', 'fake')  # the config keys of source and target

    def __init__(self,
                 real: Union[dict, object],
                 fake: Union[dict, object],
                 fakes_per_real: int = 1,
                 seed: int = 0,
                 lazy_init: bool = False):
        if not isinstance(fakes_per_real, int) or fakes_per_real < 1:
            raise ValueError('RealFakeDataset: fakes_per_real must be an '
                             f'int >= 1, got {fakes_per_real!r}')
        super().__init__(source=real, target=fake, seed=seed,
                         length='source', drop_target_labels=True)
        self.fakes_per_real = fakes_per_real

    @property
    def real(self):
        return self.source

    @property
    def fake(self):
        return self.target

    def fake_indices(self, idx: int) -> List[int]:
        """Indices in the fake dataset of the fakes of index ``idx``."""
        idx = self._check_index(idx)
        n = len(self.fake)
        out = []
        for slot in range(self.fakes_per_real):
            cycle, pos = divmod(idx * self.fakes_per_real + slot, n)
            perm = self._perms.get(cycle)
            if perm is None:
                perm = np.random.RandomState([self.seed, cycle]).permutation(n)
                self._perms[cycle] = perm
            out.append(int(perm[pos]))
        return out

    def _tagged(self, dataset, index: int, domain: int) -> dict:
        data = self._prepare(dataset, index, domain)
        # Set after packing, so the tag does not depend on meta_keys.
        data['data_samples'].set_metainfo(dict(is_fake=domain == TARGET))
        return data

    def __getitem__(self, idx: int) -> Dict[str, object]:
        return dict(
            real=self._tagged(self.real, self.source_index(idx), SOURCE),
            fakes=[self._tagged(self.fake, j, TARGET)
                   for j in self.fake_indices(idx)])

    def get_data_info(self, idx: int) -> dict:
        return dict(real=self.real.get_data_info(self.source_index(idx)),
                    fakes=[self.fake.get_data_info(j)
                           for j in self.fake_indices(idx)])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(real: {type(self.real).__name__} '
                f'({len(self.real)}), fake: {type(self.fake).__name__} '
                f'({len(self.fake)}), fakes_per_real={self.fakes_per_real})')


@FUNCTIONS.register_module()
def real_fake_collate(data_batch: Sequence[dict]) -> dict:
    """Collate N ``RealFakeDataset`` items: the N real samples, then all
    fakes (mmengine's ``pseudo_collate`` on the reordered list)."""
    for item in data_batch:
        if not isinstance(item, dict) or set(item) != {'real', 'fakes'}:
            raise TypeError('real_fake_collate expects RealFakeDataset '
                            'items dict(real=..., fakes=[...])')
    return pseudo_collate([item['real'] for item in data_batch] +
                          [f for item in data_batch for f in item['fakes']])
