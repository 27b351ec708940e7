"""What the encoder reads: image files, folders and arrays.

Images are loaded the way ``LoadImageFromFile`` loads them (``mmcv.imread``,
BGR, ``uint8``), so a config's test pipeline, minus its loader, sees the
same arrays as during evaluation. Arrays given directly must follow the
same convention: ``(H, W, 3)`` BGR or ``(H, W)`` gray ``uint8``.
"""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
from torch.utils.data import Dataset

from hashplugins.datasets.image_folder import (IMG_EXTENSIONS,
                                               scan_class_folders)

ImageInput = Union[str, np.ndarray]


def list_images(source: Union[str, Sequence[ImageInput]]
                ) -> List[ImageInput]:
    """Expand a folder (recursively, sorted), a file or a list of
    files/arrays into a list of inputs.

    A single array is one image when it is ``(H, W)`` or ``(H, W, C)`` with
    ``C`` in 1, 3, 4; otherwise (``(N, H, W)``, ``(N, H, W, C)``) it is a
    batch along its first axis. Pass a list to be explicit.

    Raises:
        FileNotFoundError: A path that does not exist, or a folder without
            images.
    """
    if isinstance(source, np.ndarray):
        one = source.ndim == 2 or (source.ndim == 3
                                   and source.shape[-1] in (1, 3, 4))
        return [source] if one else list(source)
    items = [source] if isinstance(source, str) else list(source)
    out = []
    for item in items:
        if not isinstance(item, str):
            out.append(item)
        elif osp.isdir(item):
            found = sorted(
                osp.join(dirpath, name)
                for dirpath, dirnames, names in os.walk(item)
                for name in names
                if name.lower().endswith(IMG_EXTENSIONS)
                and not name.startswith('.'))
            if not found:
                raise FileNotFoundError(
                    f'{item} holds no images (suffixes {IMG_EXTENSIONS})')
            out.extend(found)
        elif osp.isfile(item):
            out.append(item)
        else:
            raise FileNotFoundError(f'image input {item} does not exist')
    return out


def class_folder_images(root: str, classes: Optional[Sequence[str]] = None
                        ) -> Tuple[Tuple[str, ...], List[str], np.ndarray]:
    """Images of a ``<root>/<class>/...`` tree with their labels (the
    ImageFolder convention of :func:`scan_class_folders`).

    Returns:
        ``(classes, absolute paths, int64 labels)``.
    """
    classes, rel, labels = scan_class_folders(root, classes)
    return classes, [osp.join(root, p) for p in rel], labels


def read_image(path: str, color_type: str = 'color') -> np.ndarray:
    """``mmcv.imread`` with an error naming the file."""
    try:
        img = mmcv.imread(path, flag=color_type)
    except Exception as err:  # e.g. cv2.error on an empty file
        raise ValueError(f'cannot read image {path} (not an image, or '
                         f'corrupt): {err}') from err
    if img is None:
        raise ValueError(f'cannot read image {path} (not an image, or '
                         'corrupt)')
    return img


class ImageInputDataset(Dataset):
    """Images (paths or arrays) through a test pipeline without its loader.

    Args:
        items: Paths and/or arrays.
        pipeline: Callable on a results dict (the test pipeline minus
            ``LoadImageFromFile``).
        color_type: ``mmcv.imread`` flag for paths (``'color'`` or
            ``'grayscale'``).
        split: ``'query'`` or ``'database'``, stored in the results (read
            by asymmetric models such as DADH).
    """

    def __init__(self, items: Sequence[ImageInput], pipeline,
                 color_type: str, split: str):
        self.items = list(items)
        self.pipeline = pipeline
        self.color_type = color_type
        self.split = split

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        item = self.items[i]
        results = dict(sample_idx=i, split=self.split)
        if isinstance(item, str):
            results['img_path'] = item
            img = read_image(item, self.color_type)
        else:
            img = np.asarray(item)
            if img.ndim not in (2, 3):
                raise ValueError(f'input array {i} must be (H, W) or (H, W,'
                                 f' C); got shape {img.shape}')
        results.update(img=img, img_shape=img.shape[:2],
                       ori_shape=img.shape[:2])
        return self.pipeline(results)
