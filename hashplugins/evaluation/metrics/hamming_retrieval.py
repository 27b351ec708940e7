"""Hamming-ranking retrieval metrics as an mmengine ``BaseMetric``."""
import logging
import os.path as osp
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MessageHub, MMLogger, print_log
from mmpretrain.registry import METRICS

from ..curves import make_record, plot_records, save_record
from ..functional import (hamming_retrieval_metrics, label_matrix, save_codes,
                          unpack_codes)
from ..functional.codes import batch_to_host, binarize_batch, is_tensor
from ..functional.evaluate import build_requests
from ..functional.stats import check_topk_within_database

SPLITS = ('query', 'database')


def _field(sample, key: str):
    """``sample[key]`` for a dict or a data element, with a clear error."""
    value = sample.get(key, None) if hasattr(sample, 'get') else None
    if value is None:
        raise KeyError(
            f'HammingRetrievalMetric needs "{key}" in every data sample '
            f'(hash_code, gt_label, split, sample_idx); got keys '
            f'{sorted(sample.keys()) if hasattr(sample, "keys") else sample}')
    return value


def _index_dtype(value) -> Optional[str]:
    """``None`` when ``value`` holds class indices (an integer dtype, or
    no values), else its dtype's name; reads no device."""
    if is_tensor(value):
        dtype, size = value.dtype, value.numel()
        integer = not (dtype.is_floating_point or dtype.is_complex
                       or dtype == torch.bool)
        name = str(dtype).replace('torch.', '')
    else:
        value = np.asarray(value)
        size, name = value.size, str(value.dtype)
        integer = np.issubdtype(value.dtype, np.integer)
    return None if integer or not size else name


@METRICS.register_module()
class HammingRetrievalMetric(BaseMetric):
    """Retrieval metrics of binary codes ranked by Hamming distance.

    The evaluation dataset holds the query set and the database, each
    sample tagged ``split='query'`` or ``'database'``. ``process`` keeps one
    entry per sample (its packed code, label indices, split and
    ``sample_idx``), so mmengine's cross-rank collection and the removal of
    the sampler's padding are exact; ``compute_metrics`` (rank 0) orders each
    split by ``sample_idx`` and computes everything in one pass with
    :func:`~hashplugins.evaluation.functional.hamming_retrieval_metrics`.

    Semantics (logged once at the first evaluation; ``docs/evaluation.md``):
    ``sign(0) = +1``; relevant = shares a label; AP normalized by the
    relevant items retrieved; empty Hamming ball: precision and AP 0.

    Args:
        items: Any of ``'mAP'`` (``mAP@K`` for each ``topk``),
            ``'MAP@H'`` (``MAP@H<=r``), ``'P@H'``, ``'R@H'`` (precision and
            recall within radius ``r``), ``'P@N'``, ``'R@N'`` (at each
            ``precision_at``), ``'PR'`` (PR curves by radius and by number
            retrieved, written to files, not logged).
        topk: ``K`` value(s) for mAP; ``None`` means all (``mAP@all``).
        radius: Hamming radius (or radii) ``r``.
        precision_at: ``N`` value(s) for ``P@N``/``R@N``.
        pr_topn: ``N`` values of the PR-by-N curve; default
            ``(1, 5, 10, ..., 1000)``.
        zero_hit: ``'zero'`` (a query without a relevant item in its list
            scores 0 and counts; DeepHash-pytorch, ADSH, TAH) or
            ``'exclude'`` (dropped from the mean; thuml HashNet).
        tie_break: ``'index'`` (ties ranked by database position) or
            ``'average'`` (exact expectation over random tie orders).
        num_classes: Label width; default ``max label + 1``. Labels beyond
            it are an error.
        device: ``'cpu'`` (numpy engine) or a torch device such as
            ``'cuda'`` (torch engine on that device); the numbers agree.
        out_dir: Directory under which ``pr_curves/`` is written; default
            the runner's log directory (``work_dir/<timestamp>``).
        out_file: If set, rank 0 also writes the collected codes and labels
            to this ``.npz`` file (``tools/test.py --out``), for
            ``tools/analysis_tools/eval_codes.py``.
        collect_device: ``'cpu'`` or ``'gpu'`` (mmengine).
        prefix: Metric name prefix; default ``'hashing'``.
        collect_dir: Shared directory for ``collect_device='cpu'``.

    Examples:
        >>> val_evaluator = dict(
        ...     type='HammingRetrievalMetric',
        ...     items=('mAP', 'MAP@H', 'P@H', 'P@N', 'PR'),
        ...     topk=(None, 1000), radius=2, precision_at=(100, 1000))
        # logs hashing/mAP@all, hashing/mAP@1000, hashing/MAP@H<=2,
        # hashing/P@H<=2, hashing/P@100, hashing/P@1000
    """
    default_prefix = 'hashing'

    def __init__(self,
                 items: Sequence[str] = ('mAP', ),
                 topk: Union[None, int, Sequence[Optional[int]]] = (None, ),
                 radius: Union[int, Sequence[int]] = 2,
                 precision_at: Union[int, Sequence[int]] = (100, 1000),
                 pr_topn: Optional[Sequence[int]] = None,
                 zero_hit: str = 'zero',
                 tie_break: str = 'index',
                 num_classes: Optional[int] = None,
                 device: str = 'cpu',
                 out_dir: Optional[str] = None,
                 out_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        # Named ``items`` as in mmpretrain's metrics: mmengine's Runner reads
        # an evaluator dict with a ``metrics`` key as an Evaluator config.
        items = (items, ) if isinstance(items, str) else tuple(items)
        self.items = items
        self.zero_hit = zero_hit
        self.tie_break = tie_break
        self.options = dict(
            metrics=items,
            topk=topk,
            radius=radius,
            precision_at=precision_at,
            pr_topn=pr_topn,
            zero_hit=zero_hit,
            tie_break=tie_break)
        build_requests(**self.options)  # a config error fails here, early
        self.num_classes = num_classes
        self.device = device
        self.out_dir = out_dir
        self.out_file = out_file
        self._semantics_logged = False
        self._num_evaluations = 0

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep one entry per sample: packed code, labels, split, index.

        The batch's codes and labels are each read to the host at once
        (one device read each, not one per sample).
        """
        if not data_samples:
            return
        codes, labels, meta = [], [], []
        for sample in data_samples:
            codes.append(_field(sample, 'hash_code'))
            split = _field(sample, 'split')
            if split not in SPLITS:
                raise ValueError(f'split must be one of {SPLITS}; sample '
                                 f'{_field(sample, "sample_idx")} has '
                                 f'{split!r}')
            label = _field(sample, 'gt_label')
            bad = _index_dtype(label)
            if bad is not None:
                raise ValueError(
                    f'gt_label of sample {_field(sample, "sample_idx")} must '
                    f'be class indices; got {bad} values (a multi-hot '
                    'vector?)')
            labels.append(label)
            meta.append((split, int(_field(sample, 'sample_idx'))))
        bits = binarize_batch(codes, 'hash_code')
        packed = np.packbits(bits, axis=1)
        labels = batch_to_host(labels, np.int64)
        for code, label, (split, index) in zip(packed, labels, meta):
            self.results.append(
                dict(
                    code=code,
                    num_bits=bits.shape[1],
                    labels=label,
                    split=split,
                    sample_idx=index))

    def semantics(self) -> str:
        """The evaluation conventions in one line (logged once)."""
        ties = 'ties by database position' if self.tie_break == 'index' \
            else 'exact expectation over random tie orders'
        return ('Hamming retrieval: sign(0)=+1; relevant = shares a label; '
                'AP normalized by the relevant items retrieved; '
                f'zero_hit={self.zero_hit!r}; tie_break={self.tie_break!r} '
                f'({ties}); empty Hamming ball -> precision 0, AP 0')

    def _split_arrays(self, results: list, split: str):
        entries = sorted((r for r in results if r['split'] == split),
                         key=lambda r: r['sample_idx'])
        if not entries:
            raise ValueError(f'no {split} samples were evaluated; the '
                             'dataset must tag samples split="query" and '
                             'split="database"')
        index = np.array([r['sample_idx'] for r in entries])
        dup = index[1:][index[1:] == index[:-1]]
        if len(dup):
            raise ValueError(f'{split} sample_idx {dup[:5].tolist()} '
                             'evaluated more than once')
        return entries, index

    def _check_topk(self, num_database: int) -> None:
        """Refuse mAP@K with K above the database size: the functional
        layer clamps K (as the reference implementations do), which would
        report mAP@all under the name mAP@K."""
        if 'mAP' not in self.items:
            return
        check_topk_within_database(
            self.options['topk'], num_database,
            owner='HammingRetrievalMetric: topk',
            fix='set the evaluator\'s topk to None (all) or to at most '
            f'{num_database}')

    def compute_metrics(self, results: list) -> dict:
        """Order each split by ``sample_idx`` and compute the metrics."""
        if not self._semantics_logged:
            print_log(self.semantics(), logger='current')
            self._semantics_logged = True
        self._num_evaluations += 1
        queries, q_index = self._split_arrays(results, 'query')
        database, db_index = self._split_arrays(results, 'database')
        bits = {r['num_bits'] for r in results}
        if len(bits) != 1:
            raise ValueError(f'samples have different code lengths {bits}')
        num_bits = bits.pop()
        q_packed = np.stack([r['code'] for r in queries])
        db_packed = np.stack([r['code'] for r in database])
        q_labels, db_labels, width = self._labels(queries, database)
        self._check_topk(len(database))
        q_codes = unpack_codes(q_packed, num_bits)
        db_codes = unpack_codes(db_packed, num_bits)
        values = hamming_retrieval_metrics(
            q_codes,
            db_codes,
            q_labels,
            db_labels,
            device=self.device,
            **self.options)
        info = dict(
            num_bits=num_bits,
            tie_break=self.tie_break,
            zero_hit=self.zero_hit,
            num_query=len(queries),
            num_database=len(database))
        if self.out_file:
            save_codes(
                self.out_file,
                q_packed,
                db_packed,
                label_matrix(q_labels, width),
                label_matrix(db_labels, width),
                num_bits,
                meta=dict(info, metrics=list(self.items)),
                query_index=q_index,
                db_index=db_index)
            print_log(
                f'Codes and labels saved to {self.out_file}', logger='current')
        if 'PR' in self.items:
            self._write_curves(values, info)
        return {
            k: float(v)
            for k, v in values.items() if not isinstance(v, dict)
        }

    def _labels(self, queries: list, database: list):
        """Class ids when every sample has one label, else 0/1 matrices;
        and the label width."""
        entries = queries + database
        top = max(
            (int(r['labels'].max()) for r in entries if r['labels'].size),
            default=-1)
        if min((int(r['labels'].min()) for r in entries if r['labels'].size),
               default=0) < 0:
            raise ValueError('gt_label holds a negative class index')
        if self.num_classes is not None and top >= self.num_classes:
            bad = next(r['sample_idx'] for r in entries
                       if r['labels'].size and r['labels'].max() == top)
            raise ValueError(f'sample {bad} has label {top} but num_classes '
                             f'is {self.num_classes}')
        width = self.num_classes or top + 1
        if all(r['labels'].size == 1 for r in entries):
            return (np.array([r['labels'][0] for r in queries]),
                    np.array([r['labels'][0] for r in database]), width)
        matrices = []
        for part in (queries, database):
            matrix = np.zeros((len(part), width), dtype=np.uint8)
            for i, r in enumerate(part):
                matrix[i, r['labels']] = 1
            matrices.append(matrix)
        return matrices[0], matrices[1], width

    def _curve_dir(self) -> Optional[str]:
        if self.out_dir:
            return osp.join(self.out_dir, 'pr_curves')
        logger = MMLogger.get_current_instance()
        log_file = getattr(logger, 'log_file', None)
        if log_file:
            return osp.join(osp.dirname(log_file), 'pr_curves')
        return None

    def _write_curves(self, values: dict, info: dict) -> None:
        directory = self._curve_dir()
        if directory is None:
            print_log(
                'HammingRetrievalMetric: PR curves were computed but not '
                'written: no out_dir and no runner log directory',
                logger='current',
                level=logging.WARNING)
            return
        # Name files after the training step when a runner provides it.
        hub = MessageHub.get_current_instance()
        step, stage = hub.get_info('iter'), hub.get_info('loop_stage')
        tag = f'iter_{step + 1}' if step is not None else \
            f'eval_{self._num_evaluations}'
        if stage:
            tag = f'{stage}_{tag}'
        stem = osp.join(directory, f'{self.prefix}_{tag}')
        record = make_record(values, label=f'{self.prefix} {tag}', **info)
        save_record(stem + '.json', record)
        plot_records([record],
                     stem + '.png',
                     title=f'{self.prefix}: {info["num_bits"]} bits, '
                     f'tie_break={self.tie_break}')
        print_log(f'PR curves written to {stem}.json/.png', logger='current')
