"""The evaluation dataset: query set and database set in one.

Hashing evaluation needs codes for every query and every database image.
Holding both in one dataset, each sample tagged with its ``split``, lets a
single mmengine validation pass produce all codes; the metric then splits
its per-sample results by tag (one result per sample, so distributed
collection and padding truncation stay correct).
"""
import copy
import warnings
from typing import List, Union

from mmengine.dataset import Compose
from mmpretrain.registry import DATASETS, TRANSFORMS

from .utils import (build_dataset, drop_plain_file_loader,
                    pipeline_loads_files)

SPLIT_TAGS = ('query', 'database')


def _build(cfg, role: str):
    dataset = build_dataset(cfg, 'QueryDatabaseDataset', role)
    transforms = getattr(getattr(dataset, 'pipeline', None), 'transforms', [])
    if transforms:
        warnings.warn(
            f'QueryDatabaseDataset: the {role} dataset has its own pipeline '
            f'({len(transforms)} transforms); it is ignored, only the '
            "wrapper's pipeline runs. Move it to the wrapper's pipeline.")
    return dataset


@DATASETS.register_module()
class QueryDatabaseDataset:
    """Query and database datasets concatenated, each sample tagged.

    Index ``i < len(query)`` is query sample ``i``; the rest are database
    samples in order. ``get_data_info(i)`` returns the sub-dataset's data
    info plus ``split`` ('query' or 'database'), ``split_index`` (index in
    that sub-dataset) and ``sample_idx = i`` (the global index). Only the
    wrapper's ``pipeline`` is applied; sub-dataset pipelines are ignored
    (a warning says so when one is non-empty), so configs give the
    sub-datasets ``pipeline=[]``.

    Args:
        query (dict | Dataset): Query dataset or its config.
        database (dict | Dataset): Database dataset or its config.
        pipeline (Sequence): Transforms (configs or callables) applied to
            every sample.
        test_mode (bool): Kept for mmengine's interface; evaluation never
            replaces a sample, so a pipeline returning None always raises.
        lazy_init (bool): Unused (sub-datasets are built fully), accepted
            for mmengine's dataset interface.

    Raises:
        ValueError: If the two sets have different class names.
    """

    def __init__(self,
                 query: Union[dict, object],
                 database: Union[dict, object],
                 pipeline=(),
                 test_mode: bool = True,
                 lazy_init: bool = False):
        self.query = _build(query, 'query')
        self.database = _build(database, 'database')
        q_classes = self.query.metainfo.get('classes')
        db_classes = self.database.metainfo.get('classes')
        if (q_classes is None) != (db_classes is None) or (
                q_classes is not None
                and tuple(q_classes) != tuple(db_classes)):
            raise ValueError(
                'QueryDatabaseDataset: query and database have different '
                f'classes: query {q_classes}, database {db_classes}; both '
                'must index the same label space')
        self.in_memory = [
            getattr(d, 'IN_MEMORY', False) for d in (self.query, self.database)
        ]
        if all(self.in_memory) and all(
                getattr(d, 'SKIPS_PLAIN_FILE_LOADER', False)
                for d in (self.query, self.database)):
            # Decoded images equal to a plain loader's (CIFAR-10 pickles):
            # one pipeline serves them and an image-folder copy alike.
            pipeline = drop_plain_file_loader(pipeline)[0]
        if any(self.in_memory) and pipeline_loads_files(pipeline):
            raise ValueError(
                'QueryDatabaseDataset: the query/database sets hold images '
                'in memory (no img_path); remove LoadImageFromFile from the '
                'pipeline')
        self.pipeline = Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline
        ])
        self.test_mode = test_mode
        self._metainfo = copy.deepcopy(self.query.metainfo)
        self._metainfo.update(
            num_query=len(self.query), num_database=len(self.database))

    @property
    def metainfo(self) -> dict:
        """The query set's metainfo plus ``num_query``/``num_database``."""
        return copy.deepcopy(self._metainfo)

    @property
    def num_query(self) -> int:
        """Number of query samples (they come first)."""
        return len(self.query)

    @property
    def num_database(self) -> int:
        """Number of database samples."""
        return len(self.database)

    def full_init(self) -> None:
        """Sub-datasets are fully initialised on construction."""

    def __len__(self) -> int:
        return len(self.query) + len(self.database)

    def _locate(self, idx: int):
        n = len(self)
        if not -n <= idx < n:
            raise IndexError(f'QueryDatabaseDataset index {idx} out of range '
                             f'for {n} samples')
        idx = idx % n
        if idx < len(self.query):
            return idx, 'query', self.query, idx
        return idx, 'database', self.database, idx - len(self.query)

    def get_data_info(self, idx: int) -> dict:
        """Sub-dataset data info plus ``split``, ``split_index``,
        ``sample_idx``."""
        idx, tag, dataset, local = self._locate(idx)
        info = dataset.get_data_info(local)
        info['split'] = tag
        info['split_index'] = local
        info['sample_idx'] = idx
        return info

    def get_cat_ids(self, idx: int) -> List[int]:
        """Category ids of sample ``idx`` (from its sub-dataset)."""
        _, _, dataset, local = self._locate(idx)
        return dataset.get_cat_ids(local)

    def __getitem__(self, idx: int) -> dict:
        data = self.pipeline(self.get_data_info(idx))
        if data is None:
            raise RuntimeError(
                f'QueryDatabaseDataset: the pipeline returned None for sample '
                f'{idx}; evaluation cannot skip or replace samples')
        return data

    def __repr__(self) -> str:
        lines = [
            f'{type(self).__name__}(query: {len(self.query)}, '
            f'database: {len(self.database)})',
            f'  query: {type(self.query).__name__}',
            f'  database: {type(self.database).__name__}',
        ]
        return '\n'.join(lines)
