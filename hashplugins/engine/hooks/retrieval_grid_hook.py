"""Save a retrieval grid for a few fixed queries at every validation."""
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.dist import collect_results
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from hashplugins.evaluation.functional.codes import (batch_to_host,
                                                     binarize_batch)


@HOOKS.register_module()
class RetrievalGridHook(Hook):
    """After each validation, draw the same queries beside their top-k
    database results (:func:`~hashplugins.retrieval.grid.
    draw_retrieval_grid`: relevant results framed green, others red, with
    distances), so a run shows its progress as pictures.

    The codes come from the validation pass itself (the ``hash_code``,
    ``split``, ``sample_idx`` and ``gt_label`` of each output sample, as
    :class:`HammingRetrievalMetric` reads them; collected across ranks), so
    no extra forward pass is made. Images come from the validation
    dataset's data info (``img`` or ``img_path``). Search uses
    :class:`~hashplugins.retrieval.BinaryIndex` (``'index'`` tie policy).
    Rank 0 writes ``<work_dir>/<out_dir>/iter_<n>.png`` and, when the
    runner has a visualizer, adds the grid to its backends.

    Args:
        num_queries (int): Queries, evenly spaced over the query set.
        query_indices (Sequence[int], optional): Positions in the query
            set instead (fixed across validations either way).
        topk (int): Results per query.
        tile_size (int): Tile side in pixels.
        out_dir (str): Folder under the work dir.
    """

    priority = 'LOW'

    def __init__(self,
                 num_queries: int = 4,
                 query_indices: Optional[Sequence[int]] = None,
                 topk: int = 8,
                 tile_size: int = 64,
                 out_dir: str = 'retrieval_grids'):
        if num_queries < 1 or topk < 1:
            raise ValueError('RetrievalGridHook: num_queries and topk must '
                             'be >= 1')
        self.num_queries = num_queries
        self.query_indices = None if query_indices is None \
            else [int(i) for i in query_indices]
        self.topk = topk
        self.tile_size = tile_size
        self.out_dir = out_dir
        self._results = []
        self.saved = []

    def before_val_epoch(self, runner) -> None:
        self._results = []

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        outputs = list(outputs or ())
        if not outputs:
            return
        # One host read per batch for the codes and one for the labels.
        bits = binarize_batch([s.get('hash_code') for s in outputs],
                              'hash_code')
        labels = batch_to_host([s.get('gt_label') for s in outputs],
                               np.int64)
        for sample, code, label in zip(outputs, np.packbits(bits, axis=1),
                                       labels):
            self._results.append(
                dict(
                    code=code,
                    num_bits=bits.shape[1],
                    split=sample.metainfo.get('split'),
                    sample_idx=int(sample.metainfo['sample_idx']),
                    labels=label))

    def after_val_epoch(self, runner, metrics=None) -> None:
        dataset = runner.val_dataloader.dataset
        results = collect_results(self._results, len(dataset), 'cpu')
        self._results = []
        if runner.rank != 0 or not results:
            return
        path = osp.join(runner.work_dir, self.out_dir,
                        f'iter_{runner.iter}.png')
        grid = self.draw(results, dataset)
        from hashplugins.retrieval.grid import save_png
        self.saved.append(save_png(path, grid))
        visualizer = getattr(runner, 'visualizer', None)
        if visualizer is not None:
            visualizer.add_image('retrieval_grid', grid, step=runner.iter)
        runner.logger.info(f'RetrievalGridHook: saved {path}')

    def _query_positions(self, num_q: int) -> np.ndarray:
        if self.query_indices is not None:
            pos = np.asarray(self.query_indices)
            if pos.max() >= num_q or pos.min() < 0:
                raise IndexError(f'RetrievalGridHook: query_indices must be '
                                 f'in [0, {num_q})')
            return pos
        return np.unique(
            np.linspace(0, num_q - 1, min(self.num_queries, num_q)).round()
            .astype(np.int64))

    def draw(self, results: list, dataset) -> np.ndarray:
        """The grid from per-sample results (see :meth:`after_val_iter`)."""
        from hashplugins.retrieval import BinaryIndex
        from hashplugins.retrieval.grid import (dataset_image,
                                                draw_retrieval_grid)
        parts = {}
        for split in ('query', 'database'):
            rows = sorted((r for r in results if r['split'] == split),
                          key=lambda r: r['sample_idx'])
            if not rows:
                raise ValueError(
                    f'RetrievalGridHook: no {split} samples in the '
                    'validation outputs; the dataset must tag samples '
                    'split="query"/"database" (QueryDatabaseDataset)')
            parts[split] = rows
        queries = [parts['query'][i]
                   for i in self._query_positions(len(parts['query']))]
        database = parts['database']
        index = BinaryIndex(database[0]['num_bits'], backend='exact')
        index.add(np.stack([r['code'] for r in database]),
                  ids=[r['sample_idx'] for r in database])
        found = index.search(np.stack([r['code'] for r in queries]),
                             self.topk)
        relevant = None
        if all(r['labels'] is not None for r in queries + database):
            relevant = [[bool(np.intersect1d(q['labels'],
                                             database[p]['labels']).size)
                         for p in pos]
                        for q, pos in zip(queries, found.positions)]
        return draw_retrieval_grid(
            [dataset_image(dataset, q['sample_idx']) for q in queries],
            [[dataset_image(dataset, i) for i in row] for row in found.ids],
            distances=found.distances.tolist(),
            relevant=relevant,
            tile_size=self.tile_size)
