"""List-file datasets in the deep-hashing community's shared format.

DeepHash-pytorch, HashNet and TAH ship NUS-WIDE, MS-COCO, ImageNet-100 and
VisDA splits as text files with one image per line::

    relative/path/to/image.jpg 0 1 0 0 1 ... 0

the path followed by a 0/1 vector of exactly ``num_classes`` entries,
separated by whitespace. Such lists are already split (``train.txt``,
``test.txt`` = queries, ``database.txt``), so a list file is one split.

Parsing is strict: every bad line raises ``ValueError`` naming the file,
line number, reason and (truncated) text; nothing is skipped except lines
that are entirely blank.
"""
import os.path as osp
from typing import List, NamedTuple, Optional, Sequence

from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .errors import data_not_found
from .splits import carve_validation, carve_validation_count
from .utils import prepare_naming_sample

LIST_SPLITS = (None, 'train', 'val')
LIST_VALIDATION_KEYS = ('num', 'num_per_class', 'seed')


class ListEntry(NamedTuple):
    """One parsed line: path as written, positive class indices, line no."""
    path: str
    labels: List[int]
    lineno: int


def _bad_line(ann_file: str, lineno: int, line: str, reason: str):
    text = line.rstrip('\r\n')
    shown = text if len(text) <= 80 else text[:77] + '...'
    return ValueError(f'{ann_file}, line {lineno}: {reason}; line text: '
                      f'{shown!r}')


def parse_hashing_list(ann_file: str,
                       num_classes: int,
                       allow_empty_labels: bool = False) -> List[ListEntry]:
    """Parse and validate a ``path 0 1 0 ...`` list file.

    Args:
        ann_file (str): The list file.
        num_classes (int): Exact length every label vector must have.
        allow_empty_labels (bool): Accept all-zero vectors (images relevant
            to no query). Off by default, because in a multi-hot list they
            usually mean a broken conversion.

    Returns:
        list[ListEntry]: Entries in file order.

    Raises:
        FileNotFoundError: If ``ann_file`` does not exist.
        ValueError: On the first bad line: path missing, wrong number of
            labels, a value other than 0/1, all-zero labels (unless
            allowed), or a path listed twice.
    """
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f'num_classes must be a positive int, got '
                         f'{num_classes!r}')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'ann_file={ann_file} does not exist')
    entries: List[ListEntry] = []
    first_seen = {}
    with open(ann_file, encoding='utf-8') as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue  # a blank line carries no sample
            if line[0].isspace():
                raise _bad_line(
                    ann_file, lineno, line,
                    'the line starts with whitespace, so the image path is '
                    'empty (expected "path 0 1 ...")')
            tokens = line.split()
            path, values = tokens[0], tokens[1:]
            if len(values) != num_classes:
                raise _bad_line(
                    ann_file, lineno, line,
                    f'found {len(values)} labels, expected num_classes='
                    f'{num_classes} (a space in the path also splits it)')
            bad = [(k, v) for k, v in enumerate(values) if v not in ('0', '1')]
            if bad:
                k, v = bad[0]
                raise _bad_line(ann_file, lineno, line,
                                f'label {k} is {v!r}; labels must be 0 or 1')
            labels = [k for k, v in enumerate(values) if v == '1']
            if not labels and not allow_empty_labels:
                raise _bad_line(
                    ann_file, lineno, line,
                    'all labels are 0 (no class); pass '
                    'allow_empty_labels=True to keep such images')
            if path in first_seen:
                raise _bad_line(
                    ann_file, lineno, line,
                    f'path {path!r} is already listed on line '
                    f'{first_seen[path]}')
            first_seen[path] = lineno
            entries.append(ListEntry(path, labels, lineno))
    if not entries:
        raise ValueError(f'ann_file={ann_file} lists no images')
    return entries


@DATASETS.register_module()
class HashingListDataset(BaseDataset):
    """A multi-label (or one-hot) split given as a ``path 0 1 ...`` list.

    Image paths are joined to ``data_root`` (and ``data_prefix``) unless
    absolute; ``ann_file`` is relative to ``data_root`` unless absolute,
    as everywhere in mmengine.

    Args:
        ann_file (str): The list file.
        num_classes (int): Label vector width (NUS-WIDE 21, MS-COCO 80,
            ImageNet-100 100, VisDA 12).
        data_root (str): Image root; must exist when given.
        data_prefix (str | dict): Sub-folder of the images under data_root.
        classes (Sequence[str] | str, optional): Class names (or a file of
            them); default ``('0', '1', ...)``. Must have num_classes
            entries.
        allow_empty_labels (bool): Keep all-zero label vectors.
        check_files (bool): Check at load time that every image exists.
            Off by default: NUS-WIDE's database is ~190k files and stat
            calls are slow on network storage; a missing image then fails
            in ``LoadImageFromFile`` with its path.
        domain_id (int, optional): Put ``domain=domain_id`` in data infos.
        validation (dict, optional): A validation set for tuning cut from
            this (training) list: ``num`` (seeded random lines, for
            multi-label lists) or ``num_per_class`` (per class, for lists
            with exactly one positive per line), and ``seed`` (default 0).
            Needs ``split``. None: the whole list.
        split (str, optional): With ``validation``: ``'val'`` the held-out
            lines, ``'train'`` the rest (in file order). None: the whole
            list.
        **kwargs: Other :class:`mmpretrain.datasets.BaseDataset` arguments.

    Data info keys: ``img_path``, ``gt_label`` (list of positive class
    indices), ``list_line`` (line number in ``ann_file``), ``domain``.
    """

    DATA_LAYOUT = ('<data_root>/<ann_file>: one "path 0 1 0 ..." line per '
                   'image (num_classes 0/1 values), image paths relative to '
                   'data_root (+ data_prefix) unless absolute')
    DATA_HOWTO = ('see docs/datasets.md, "NUS-WIDE", "MS-COCO", '
                  '"ImageNet-100" or "VisDA-2017" (where to get the images, '
                  'the lists and the converters)')

    def __init__(self,
                 ann_file: str,
                 num_classes: int,
                 data_root: str = '',
                 data_prefix='',
                 classes: Optional[Sequence[str]] = None,
                 allow_empty_labels: bool = False,
                 check_files: bool = False,
                 domain_id: Optional[int] = None,
                 validation: Optional[dict] = None,
                 split: Optional[str] = None,
                 **kwargs):
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError('HashingListDataset: num_classes must be a '
                             f'positive int, got {num_classes!r}')
        self.validation = _check_list_validation(validation, split)
        self.split = split
        if classes is None and 'classes' not in (kwargs.get('metainfo') or {}):
            classes = tuple(str(i) for i in range(num_classes))
        if data_root and not osp.isdir(osp.expanduser(data_root)):
            raise data_not_found(
                self, f'HashingListDataset: data_root={data_root} does not '
                'exist (the data_root of the dataset config: the folder the '
                'list paths are relative to)')
        self.num_classes = num_classes
        self.allow_empty_labels = allow_empty_labels
        self.check_files = check_files
        self.domain_id = domain_id
        super().__init__(
            ann_file=ann_file,
            data_root=osp.expanduser(data_root),
            data_prefix=data_prefix,
            classes=classes,
            **kwargs)
        n = len(self._metainfo['classes'])
        if n != num_classes:
            raise ValueError(f'HashingListDataset: {n} class names given, but '
                             f'num_classes={num_classes}')

    def load_data_list(self) -> List[dict]:
        """Parse ``ann_file`` into data infos."""
        if not self.ann_file:
            raise data_not_found(self, 'HashingListDataset: ann_file is empty')
        if not osp.isfile(self.ann_file):
            raise data_not_found(
                self, f'HashingListDataset: ann_file={self.ann_file} does not '
                'exist (the ann_file of the dataset config, relative to '
                'data_root unless absolute)')
        entries = parse_hashing_list(self.ann_file, self.num_classes,
                                     self.allow_empty_labels)
        if self.validation is not None:
            entries = self._validation_part(entries)
        prefix = self.data_prefix.get('img_path', '')
        infos, missing = [], []
        for e in entries:
            img_path = osp.join(prefix, e.path)
            if self.check_files and not osp.isfile(img_path):
                missing.append(f'line {e.lineno}: {img_path}')
            info = dict(
                img_path=img_path, gt_label=e.labels, list_line=e.lineno)
            if self.domain_id is not None:
                info['domain'] = self.domain_id
            infos.append(info)
        if missing:
            raise FileNotFoundError(
                f'{self.ann_file}: {len(missing)} listed image(s) do not '
                f'exist, e.g. {missing[:3]}; check data_root/data_prefix')
        return infos

    def _validation_part(self, entries: List[ListEntry]) -> List[ListEntry]:
        """The ``split`` part of the validation cut of ``entries``."""
        seed = self.validation.get('seed', 0)
        where = f'{self.ann_file}: validation={self.validation}'
        try:
            if 'num' in self.validation:
                fit, val = carve_validation_count(
                    len(entries), self.validation['num'], seed)
            else:
                for e in entries:
                    if len(e.labels) != 1:
                        raise ValueError(
                            f'line {e.lineno} has {len(e.labels)} positive '
                            'labels; num_per_class needs exactly one per '
                            'line (use num for a multi-label list)')
                fit, val = carve_validation(
                    range(len(entries)), [e.labels[0] for e in entries],
                    self.validation['num_per_class'], seed)
        except ValueError as err:
            raise ValueError(f'{where}: {err}') from None
        return [entries[i] for i in (val if self.split == 'val' else fit)]

    def prepare_data(self, idx: int):
        """The pipeline's output; errors name the sample and its file."""
        return prepare_naming_sample(self, idx)

    def get_cat_ids(self, idx: int) -> List[int]:
        """Positive class indices of sample ``idx``."""
        return list(self.get_data_info(idx)['gt_label'])


def _check_list_validation(validation: Optional[dict],
                           split: Optional[str]) -> Optional[dict]:
    """``validation`` as a dict, or a ValueError saying what is allowed."""
    owner = 'HashingListDataset'
    if split not in LIST_SPLITS:
        raise ValueError(f'{owner}: split={split!r} is not one of '
                         f"{LIST_SPLITS} (a list file is one split already; "
                         "'train'/'val' are the parts of its validation cut)")
    if validation is None:
        if split is not None:
            raise ValueError(
                f"{owner}: split={split!r} needs validation=dict(num=... or "
                'num_per_class=..., seed=...), the validation set cut from '
                'the list')
        return None
    if not isinstance(validation, dict) or set(validation) - set(
            LIST_VALIDATION_KEYS) or ('num' in validation) == (
                'num_per_class' in validation):
        raise ValueError(
            f'{owner}: validation must be a dict with exactly one of num / '
            f'num_per_class (and optionally seed), got {validation!r}')
    if split is None:
        raise ValueError(f"{owner}: validation={validation} needs split="
                         "'train' (the rest of the list) or 'val' (the "
                         'held-out lines)')
    return dict(validation)
