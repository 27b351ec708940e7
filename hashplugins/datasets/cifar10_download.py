"""Download the official CIFAR-10 python pickles (for ``download=True``
and ``tools/dataset_converters/download_cifar10.py``).

Official URL and md5 by default (https://www.cs.toronto.edu/~kriz/
cifar.html); the transfer is atomic, resumable and md5-checked
(:mod:`hashplugins.datasets.download`), the extraction streams the archive
once with member checks and a progress bar
(:func:`hashplugins.datasets.archive.extract_tar`). Loading the pickles is
:func:`hashplugins.datasets.cifar10.read_cifar_batch`'s job, through an
unpickler that admits only what an official batch holds.
"""
import os
import os.path as osp
import shutil
import tempfile
from typing import Optional

from .archive import extract_tar
from .download import download_url, file_lock
from .errors import DataNotFoundError

TRAIN_BATCHES = tuple(f'data_batch_{i}' for i in range(1, 6))
TEST_BATCH = 'test_batch'
PICKLE_FOLDER = 'cifar-10-batches-py'
ARCHIVE = 'cifar-10-python.tar.gz'
CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz'
CIFAR10_MD5 = 'c58f30108f718f92721af3b95e74349a'
DOWNLOAD_KEYS = ('url', 'md5', 'timeout')


def has_pickles(folder: str) -> bool:
    """Whether ``folder`` holds the five training batches and the test
    batch."""
    return all(
        osp.isfile(osp.join(folder, f))
        for f in TRAIN_BATCHES + (TEST_BATCH, ))


def download_cifar10(root: str,
                     url: str = CIFAR10_URL,
                     md5: str = CIFAR10_MD5,
                     timeout: float = 60.0) -> str:
    """Get the official CIFAR-10 pickles into ``<root>/cifar-10-batches-py``.

    Nothing is fetched when the pickles are there. Otherwise the archive is
    downloaded to ``<root>/cifar-10-python.tar.gz`` (through a hidden
    ``.part`` file, resumable, renamed into place only once its md5 is
    right; :func:`~hashplugins.datasets.download.download_url`), its md5
    checked again if it was already there, and it is extracted with member
    checks (no absolute paths, ``..`` or links) into a temporary folder
    whose ``cifar-10-batches-py/`` is renamed into place when complete. The
    archive is kept. Processes doing this at once wait for each other (a
    lock file in ``root``). The pickles are later read by the restricted
    unpickler of :func:`read_cifar_batch`, never by plain ``pickle``.

    Args:
        root (str): Data root folder (created if missing).
        url (str): Archive URL (default: the official one).
        md5 (str): Its expected md5 (default: the official one).
        timeout (float): Seconds a connection may stall.

    Returns:
        str: The folder holding the pickles.
    """
    root = osp.abspath(osp.expanduser(root))
    folder = osp.join(root, PICKLE_FOLDER)
    if has_pickles(folder):
        return folder
    if osp.exists(root) and not osp.isdir(root):
        raise DataNotFoundError(
            f'download_cifar10: {root} is a file; give the folder to '
            'download into')
    os.makedirs(root, exist_ok=True)
    with file_lock(folder):
        if has_pickles(folder):  # another process got it meanwhile
            return folder
        if osp.exists(folder):
            raise DataNotFoundError(
                f'{folder} exists but does not hold all of '
                f'{", ".join(TRAIN_BATCHES + (TEST_BATCH, ))}; delete it to '
                'download again')
        archive = download_url(url, osp.join(root, ARCHIVE), md5, timeout)
        print(f'extracting {archive} into {root}', flush=True)
        staging = tempfile.mkdtemp(prefix='.tmp-extract-', dir=root)
        try:
            extract_tar(archive, staging)
            inner = osp.join(staging, PICKLE_FOLDER)
            if not has_pickles(inner):
                raise DataNotFoundError(
                    f'{archive} does not hold {PICKLE_FOLDER}/ with '
                    f'{", ".join(TRAIN_BATCHES + (TEST_BATCH, ))}: it is not '
                    'the official python version of CIFAR-10')
            os.rename(inner, folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def download_options(download) -> Optional[dict]:
    """``download`` (bool or dict of download_cifar10 options) as a dict,
    or None for no download."""
    if download is None or download is False:
        return None
    if download is True:
        return {}
    if isinstance(download, dict) and not set(download) - set(DOWNLOAD_KEYS):
        return dict(download)
    raise ValueError(f'CIFAR10Hashing: download must be True, False or a dict '
                     f'with keys among {DOWNLOAD_KEYS}, got {download!r}')
