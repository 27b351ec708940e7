"""Image-folder datasets: ``<root>/[<domain>/]<class>/*.jpg`` trees.

PACS, Office-31/Office-Home and VisDA-2017 all come as one folder per
domain holding one folder per class. :class:`ImageFolderDomain` reads such
a tree (or its archive, extracted once into the cache) as a single-label
pool and cuts it with the protocol splitter, or takes it whole
(``split='all'``, e.g. a source domain in transfer training).
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.registry import DATASETS

from .archive import resolve_root
from .base import Pool, SingleLabelHashingDataset
from .errors import data_not_found
from .protocols import per_class_protocol

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.ppm', '.pgm', '.tif',
                  '.tiff', '.webp')


def list_class_dirs(root: str) -> List[str]:
    """Sorted names of the non-hidden sub-folders of ``root``."""
    return sorted(
        e.name for e in os.scandir(root)
        if e.is_dir() and not e.name.startswith('.'))


def scan_class_folders(
    root: str,
    classes: Optional[Sequence[str]] = None,
    extensions: Sequence[str] = IMG_EXTENSIONS,
) -> Tuple[Tuple[str, ...], List[str], np.ndarray]:
    """List the images of a ``<root>/<class>/...`` tree, in a fixed order.

    Files beside the class folders (a README) are not classes and are not
    read. Inside a class folder (searched recursively) every non-hidden
    file must be an image: anything else raises rather than being skipped.

    Args:
        root (str): Folder whose sub-folders are the classes.
        classes (Sequence[str], optional): Class folders to use, in label
            order; default all sub-folders, sorted.
        extensions (Sequence[str]): Accepted image suffixes (any case).

    Returns:
        tuple: Class names, image paths relative to ``root`` sorted by
        (class, path), and their int64 labels.
    """
    found = list_class_dirs(root)
    if classes is None:
        classes = found
        if not classes:
            raise FileNotFoundError(f'{root} has no class sub-folders; '
                                    'expected <root>/<class>/<image>')
    else:
        missing = [c for c in classes if c not in found]
        if missing:
            raise FileNotFoundError(
                f'{root} has no folder for class(es) {missing}; found '
                f'{found}')
    exts = tuple(e.lower() for e in extensions)
    paths, labels = [], []
    for label, cls in enumerate(classes):
        cls_paths, bad = [], []
        for dirpath, dirnames, filenames in os.walk(osp.join(root, cls)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
            # One relpath per folder, not per file: CIFAR has 60,000 files.
            rel_dir = osp.relpath(dirpath, root)
            for fname in filenames:
                if fname.startswith('.'):
                    continue
                rel = f'{rel_dir}/{fname}'
                (cls_paths
                 if fname.lower().endswith(exts) else bad).append(rel)
        if bad:
            raise ValueError(
                f'{root}: {len(bad)} file(s) without an image suffix in class '
                f'folder {cls!r}, e.g. {sorted(bad)[:3]}; remove them or '
                f'pass extensions= (now {tuple(extensions)})')
        if not cls_paths:
            raise ValueError(f'class folder {osp.join(root, cls)} holds no '
                             'images')
        cls_paths.sort()
        paths += cls_paths
        labels += [label] * len(cls_paths)
    return tuple(classes), paths, np.asarray(labels, dtype=np.int64)


@DATASETS.register_module()
class ImageFolderDomain(SingleLabelHashingDataset):
    """One domain of an image-folder dataset, as a hashing split.

    Layout ``<data_root>/<domain>/<class>/*.jpg``, or
    ``<data_root>/<class>/*.jpg`` with ``domain=None``. ``data_root`` may
    also be an archive of that tree (extracted once into the cache; a
    single top-level folder inside it is entered). For Office-31, whose
    domains keep classes under ``images/``, pass ``domain='amazon/images'``.

    Pool order: classes sorted by name (or as ``classes`` lists them), then
    image paths sorted. Split files are cached per folder name and domain
    (``<basename>-<domain>``) and carry a checksum of the file list, so a
    folder whose images changed is caught rather than mis-indexed.

    Protocols (per class; sized for small domains such as PACS, whose
    smallest class has 136 images):

    - ``'a'``: 20 query + 100 train, database = the rest (train excluded);
    - ``'b'`` (default): 20 query, database = all but queries, 100 train
      drawn from the database (the TAH target-domain shape);
    - ``'tah'``: TAH's VisDA protocol, 100 query, 500 train from the
      database (methods.md §2.6);
    - or a protocol dict.

    Args:
        data_root (str): Folder or archive holding the domain folders.
        domain (str, optional): Domain sub-folder (relative path).
        classes (Sequence[str], optional): Class folders to use, in label
            order; default all, sorted. Listing a subset is allowed.
        extensions (Sequence[str]): Accepted image suffixes.
        **kwargs: ``split``, ``protocol``, ``seed``, ``split_dir``,
            ``domain_id`` of :class:`SingleLabelHashingDataset`, and
            :class:`mmpretrain.datasets.BaseDataset` arguments.

    Data info keys: ``img_path``, ``gt_label``, ``pool_index``, and
    ``domain`` when ``domain_id`` is set.
    """

    PROTOCOLS = {
        'a': per_class_protocol(20, 100, 'rest'),
        'b': per_class_protocol(20, 100, 'rest_plus_train'),
        'tah': per_class_protocol(100, 500, 'rest_plus_train'),
    }
    DEFAULT_PROTOCOL = 'b'
    DATA_LAYOUT = ('<data_root>/<domain>/<class>/*.jpg (<data_root>/<class>/'
                   '*.jpg with domain=None), or an archive of that tree')
    DATA_HOWTO = ('see docs/datasets.md, "Getting the data" ("PACS" for '
                  'such trees, Office; "VisDA-2017")')

    def __init__(self,
                 data_root: str,
                 domain: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 **kwargs):
        self.domain = domain
        self.class_subset = None if classes is None else tuple(classes)
        self.extensions = tuple(extensions)
        super().__init__(data_root=data_root, **kwargs)

    def locate(self) -> Tuple[str, str]:
        """Return the data root folder and the domain folder in it."""
        root = resolve_root(self.data_root, 'data_root', type(self))
        if self.domain is None:
            return root, root
        folder = osp.join(root, self.domain)
        if not osp.isdir(folder):
            raise data_not_found(
                self, f'{type(self).__name__}: domain folder {folder} does '
                f'not exist (domain={self.domain!r}); domains under '
                f'data_root: {list_class_dirs(root)}')
        return root, folder

    def load_pool(self) -> Pool:
        """Scan the domain folder."""
        root, folder = self.locate()
        # Split cache name: '<root basename>-<domain>'.
        name = osp.basename(root)
        if self.domain is not None:
            name += '-' + self.domain.strip('/').replace('/', '_')
        classes = self.class_subset or self._metainfo.get('classes')
        classes, rel_paths, labels = scan_class_folders(
            folder, classes, self.extensions)
        return Pool(
            name=name,
            labels=labels,
            classes=classes,
            img_paths=[f'{folder}/{p}' for p in rel_paths],
            items=rel_paths)


@DATASETS.register_module()
class PACSDomain(ImageFolderDomain):
    """A PACS domain (Li et al., ICCV 2017): 7 classes, 4 domains.

    ``data_root`` is the folder holding ``photo/``, ``art_painting/``,
    ``cartoon/`` (and ``sketch/``) or an archive of it, such as the shared
    ``pacs_128.tar.gz``. Class folders must be exactly the 7 PACS classes.
    See :class:`ImageFolderDomain` for the protocols and arguments.
    """

    METAINFO = dict(
        classes=('dog', 'elephant', 'giraffe', 'guitar', 'horse', 'house',
                 'person'))
    DOMAINS = ('photo', 'art_painting', 'cartoon', 'sketch')
    DATA_LAYOUT = ('<data_root>/{photo,art_painting,cartoon,sketch}/{dog,'
                   'elephant,giraffe,guitar,horse,house,person}/*.jpg, or an '
                   'archive of it (such as pacs_128.tar.gz)')
    DATA_HOWTO = 'see docs/datasets.md, "PACS"'

    def __init__(self, data_root: str, domain: str = 'photo', **kwargs):
        if domain not in self.DOMAINS:
            raise ValueError(f'PACSDomain: domain={domain!r} is not one of '
                             f'{self.DOMAINS}')
        super().__init__(data_root, domain=domain, **kwargs)

    def load_pool(self) -> Pool:
        """Scan the domain and insist on exactly the PACS classes."""
        found = tuple(list_class_dirs(self.locate()[1]))
        if found != self.METAINFO['classes']:
            raise ValueError(
                f'PACS domain {self.domain!r} under {self.data_root} has '
                f'class folders {found}; expected {self.METAINFO["classes"]}')
        return super().load_pool()
