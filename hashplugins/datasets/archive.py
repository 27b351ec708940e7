"""Safe, atomic, extract-once handling of dataset archives.

Datasets may be given as an archive (``CIFAR-10-images.tar.gz``,
``pacs_128.tar.gz``, the official ``cifar-10-python.tar.gz``). The archive
is unpacked once into the cache (``<cache>/extracted/<name>-<key>``) and
reused; the key hashes the archive's path, size and modification time, so
a replaced archive is unpacked afresh. Extraction goes into a temporary
folder that is renamed into place only when complete, in one streaming
pass with a progress bar; every member is checked before it is written:
absolute paths, ``..`` components, links and device files are refused (a
crafted archive must not write outside its folder).
"""
import hashlib
import math
import os
import os.path as osp
import shutil
import sys
import tarfile
import zipfile

from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from .cache import cache_root, publish_dir
from .errors import config_key_hint, data_not_found

ARCHIVE_SUFFIXES = ('.tar.gz', '.tgz', '.tar.bz2', '.tbz2', '.tar.xz', '.txz',
                    '.tar', '.zip')


def is_archive(path: str) -> bool:
    """Whether ``path`` names a file with a supported archive suffix."""
    return osp.isfile(path) and path.lower().endswith(ARCHIVE_SUFFIXES)


def archive_stem(path: str) -> str:
    """File name without its archive suffix (``x.tar.gz`` -> ``x``)."""
    name = osp.basename(path)
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[:-len(suffix)]
    return name


def extraction_dir(archive: str) -> str:
    """Cache folder that holds (or will hold) ``archive``'s content."""
    archive = osp.abspath(archive)
    st = os.stat(archive)
    key = hashlib.sha1(
        f'{archive}|{st.st_size}|{st.st_mtime_ns}'.encode()).hexdigest()[:10]
    return osp.join(cache_root(), 'extracted',
                    f'{archive_stem(archive)}-{key}')


def _check_member_name(name: str, archive: str) -> None:
    parts = name.replace('\\', '/').split('/')
    if name.startswith(
        ('/', '\\')) or osp.isabs(name) or (len(parts[0]) == 2
                                            and parts[0][1] == ':'):
        raise ValueError(f'{archive}: member {name!r} has an absolute path; '
                         'refusing to extract')
    if '..' in parts:
        raise ValueError(f'{archive}: member {name!r} climbs out of the '
                         "extraction folder with '..'; refusing to extract")


class _ProgressReader:
    """File wrapper that advances a progress bar per MiB read."""

    STEP = 1 << 20

    def __init__(self, f, bar: ProgressBar):
        self.f, self.bar, self.done, self.shown = f, bar, 0, 0

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.done += len(data)
        steps = self.done // self.STEP - self.shown
        if steps > 0:
            self.shown += steps
            self.bar.update(steps)
        return data


def extract_tar(archive: str, folder: str, file=None) -> None:
    """Extract a (compressed) tar into ``folder`` safely, with progress.

    One streaming pass (the archive is decompressed once; the bar follows
    the compressed bytes read). Every member is checked before it is
    written: absolute paths, ``..`` and anything but regular files and
    folders (links, devices, fifos) are refused. Files are written by this
    code, not by ``tarfile``'s extraction, so no link, owner or mode from
    the archive is applied. On a refusal, files already written stay in
    ``folder``: give a temporary folder and discard it on error.

    Args:
        archive (str): The tar file.
        folder (str): Destination folder (created).
        file: Stream for the progress bar (default ``sys.stdout``).
    """
    file = file or sys.stdout
    root = osp.realpath(folder)
    os.makedirs(root, exist_ok=True)
    size = os.path.getsize(archive)
    bar = ProgressBar(
        max(1, math.ceil(size / _ProgressReader.STEP)), file=file)
    try:
        with open(archive, 'rb') as raw, tarfile.open(
                fileobj=_ProgressReader(raw, bar), mode='r|*') as tar:
            for m in tar:
                _check_member_name(m.name, archive)
                if not (m.isfile() or m.isdir()):
                    raise ValueError(f'{archive}: member {m.name!r} is a link '
                                     'or special file; only regular files '
                                     'and folders are extracted')
                dest = osp.realpath(osp.join(root, m.name))
                if dest != root and not dest.startswith(root + os.sep):
                    raise ValueError(f'{archive}: member {m.name!r} leaves '
                                     'the extraction folder; refusing')
                if m.isdir():
                    os.makedirs(dest, exist_ok=True)
                    continue
                os.makedirs(osp.dirname(dest), exist_ok=True)
                with tar.extractfile(m) as src, open(dest, 'wb') as out:
                    shutil.copyfileobj(src, out, _ProgressReader.STEP)
        if bar.completed < bar.task_num:  # the last, partial MiB
            bar.update(bar.task_num - bar.completed)
    finally:
        file.write('\n')
        file.flush()


def _extract_into(archive: str, folder: str) -> None:
    if archive.lower().endswith('.zip'):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                _check_member_name(name, archive)
            zf.extractall(folder)
        return
    extract_tar(archive, folder)


def extract_archive(archive: str) -> str:
    """Extract ``archive`` into the cache once and return that folder.

    Args:
        archive (str): Path of a tar (optionally compressed) or zip file.

    Returns:
        str: The folder holding the archive's content.
    """
    if not osp.isfile(archive):
        raise FileNotFoundError(f'archive {archive} does not exist')
    target = extraction_dir(archive)
    if osp.isdir(target) and os.listdir(target):
        return target  # complete: it only appears by an atomic rename
    print_log(f'extracting {archive} into {target} (once)', logger='current')
    with publish_dir(target) as tmp:
        _extract_into(archive, tmp)
    return target


def _single_subdir(folder: str):
    entries = [e for e in os.listdir(folder) if not e.startswith('.')]
    if len(entries) == 1 and osp.isdir(osp.join(folder, entries[0])):
        return osp.join(folder, entries[0])
    return None


def _lone_archive(folder: str):
    """The only archive in a folder that has no sub-folders, if any.

    The shared data folders hold just an archive (plus small side files
    such as ``official_order.npz``); pointing ``data_root`` at the folder
    then means its archive.
    """
    entries = [e for e in os.scandir(folder) if not e.name.startswith('.')]
    if any(e.is_dir() for e in entries):
        return None
    archives = [e.path for e in entries if is_archive(e.path)]
    return archives[0] if len(archives) == 1 else None


def resolve_root(path: str, key: str = 'data_root', dataset_cls=None) -> str:
    """Turn a configured data root (folder or archive) into a folder.

    An archive is extracted into the cache; if its content is a single
    top-level folder (``pacs/`` in ``pacs_128.tar.gz``), that folder (one
    level, not further) is returned. A folder without sub-folders that
    holds exactly one archive (the shared ``cifar10/`` and ``pacs/``
    folders) stands for its archive.

    Args:
        path (str): Folder or archive path (``~`` is expanded).
        key (str): Config key the path came from, named in errors.
        dataset_cls (type, optional): The dataset asking; a missing path
            then raises :class:`~hashplugins.datasets.errors.
            DataNotFoundError` with its expected layout and how to get it.

    Returns:
        str: Absolute path of the data folder.

    Raises:
        FileNotFoundError: If ``path`` is neither a folder nor an archive
            (``DataNotFoundError`` if it does not exist at all).
    """
    if not path:
        if dataset_cls is not None:
            raise data_not_found(
                dataset_cls, f'{dataset_cls.__name__}: {key} is empty; set '
                'it to the dataset folder or archive')
        raise FileNotFoundError(f'{key} is empty; set it to the dataset '
                                'folder or archive')
    path = osp.abspath(osp.expanduser(str(path)))
    if osp.isdir(path):
        path = _lone_archive(path) or path
        if osp.isdir(path):
            return path
    if is_archive(path):
        folder = extract_archive(path)
        # One level only: deeper single folders may be a domain or class.
        return _single_subdir(folder) or folder
    if osp.exists(path):
        raise FileNotFoundError(
            f'{key}={path} is a file but not a supported archive '
            f'({", ".join(ARCHIVE_SUFFIXES)}); give a folder or an archive')
    if dataset_cls is not None:
        raise data_not_found(
            dataset_cls, f'{dataset_cls.__name__}: {key}={path} does not '
            f'exist ({config_key_hint()})',
            data_root=path)
    raise FileNotFoundError(f'{key}={path} does not exist; give the dataset '
                            'folder or its archive')
