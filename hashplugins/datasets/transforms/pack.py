"""Packing transform for hashing: labels as indices and multi-hot, plus the
tags (``split``, ``domain``, ``sample_idx``) the hashers and metrics read.
"""
from typing import Optional

import numpy as np
import torch
from mmpretrain.datasets.transforms import PackInputs
from mmpretrain.registry import TRANSFORMS


def _where(results: dict) -> str:
    for key in ('img_path', 'sample_idx'):
        if key in results:
            return f'{key}={results[key]!r}'
    return 'this sample'


@TRANSFORMS.register_module()
class PackHashInputs(PackInputs):
    """Pack an image and its labels into ``inputs`` and a ``DataSample``.

    Like mmpretrain's ``PackInputs`` (whose behaviour it keeps) with:

    - ``gt_label`` set through ``DataSample.set_gt_label`` as class indices
      (an int for single-label data, a list/array of indices for
      multi-label data) after checking they are non-negative integers;
    - with ``num_classes``, also ``gt_score``: the multi-hot float vector of
      length ``num_classes`` (indices >= num_classes raise ``ValueError``);
    - default meta keys extended by ``split`` ('query'/'database', from
      :class:`QueryDatabaseDataset`) and ``domain`` (0 = source, 1 =
      target), next to ``sample_idx``, ``img_path``, ``ori_shape``,
      ``img_shape`` (each only when present).

    Args:
        num_classes (int, optional): Emit ``gt_score`` of this width.
        input_key (str): Key of the image. Defaults to 'img'.
        algorithm_keys (Sequence[str]): Extra data fields to copy.
        meta_keys (Sequence[str]): Meta fields to copy.

    Returns (from ``transform``):
        dict: ``inputs`` (CxHxW tensor) and ``data_samples`` (DataSample).
    """

    DEFAULT_META_KEYS = PackInputs.DEFAULT_META_KEYS + ('split', 'domain')

    def __init__(self,
                 num_classes: Optional[int] = None,
                 input_key: str = 'img',
                 algorithm_keys=(),
                 meta_keys=DEFAULT_META_KEYS):
        if num_classes is not None and (not isinstance(num_classes, int)
                                        or num_classes < 1):
            raise ValueError('PackHashInputs: num_classes must be a positive '
                             f'int or None, got {num_classes!r}')
        super().__init__(
            input_key=input_key,
            algorithm_keys=algorithm_keys,
            meta_keys=meta_keys)
        self.num_classes = num_classes

    def _label_indices(self, results: dict) -> torch.Tensor:
        value = results['gt_label']
        arr = np.asarray(
            value.numpy() if isinstance(value, torch.Tensor) else value)
        if arr.size == 0:
            arr = arr.astype(np.int64)  # [] (an all-zero list line) is float
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)
                                       and arr.ndim <= 1):
            raise ValueError(
                f'PackHashInputs: gt_label of {_where(results)} is '
                f'{value!r}; expected an int or a 1-D sequence of class '
                'indices (not a multi-hot vector)')
        arr = arr.reshape(-1).astype(np.int64)
        if arr.size and arr.min() < 0:
            raise ValueError(f'PackHashInputs: gt_label of {_where(results)} '
                             f'has negative index {arr.min()}')
        if self.num_classes is not None and arr.size and (arr.max()
                                                          >= self.num_classes):
            raise ValueError(
                f'PackHashInputs: gt_label of {_where(results)} has index '
                f'{arr.max()}, but num_classes={self.num_classes} (valid '
                f'0..{self.num_classes - 1})')
        return torch.from_numpy(arr)

    def transform(self, results: dict) -> dict:
        """Pack ``results``; see the class docstring."""
        if self.input_key not in results:
            raise KeyError(
                f'PackHashInputs: no {self.input_key!r} in the results of '
                f'{_where(results)}; file-based datasets need '
                'LoadImageFromFile first in the pipeline')
        results = dict(results)
        labels = None
        if 'gt_label' in results:
            labels = self._label_indices(results)
            results['gt_label'] = labels
        packed = super().transform(results)
        if labels is not None and self.num_classes is not None:
            score = torch.zeros(self.num_classes, dtype=torch.float32)
            score[labels] = 1.0
            packed['data_samples'].set_gt_score(score)
        return packed

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', num_classes={self.num_classes})')
