"""Cache location and atomic publication of files and directories.

Everything the datasets layer writes (split files, extracted archives,
converter outputs) goes through these helpers, so that an interrupted run
never leaves a partial output that looks complete: content is written
under a temporary name in the destination's own folder (same filesystem)
and then renamed into place, which is atomic on POSIX.
"""
import errno
import os
import os.path as osp
import secrets
import shutil
from contextlib import contextmanager
from typing import Iterator

CACHE_ENV = 'HASHPLUGINS_CACHE'
DEFAULT_CACHE = '~/.cache/hashplugins'


def cache_root() -> str:
    """Return the hashplugins cache folder.

    ``$HASHPLUGINS_CACHE`` when set, else ``~/.cache/hashplugins``. Shared
    data folders may be read-only, so derived files (splits, extracted
    archives) live here instead.

    Returns:
        str: Absolute path of the cache folder (not created here).
    """
    path = os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return osp.abspath(osp.expanduser(path))


def _temp_sibling(path: str) -> str:
    """A fresh hidden name next to ``path`` (same filesystem, so rename is
    atomic). Not ``tempfile.mkstemp``: that forces mode 0600, and outputs
    should get the user's usual umask permissions."""
    return osp.join(
        osp.dirname(path),
        f'.tmp-{osp.basename(path)}-{os.getpid()}-{secrets.token_hex(4)}')


def _is_empty_dir(path: str) -> bool:
    return osp.isdir(path) and not os.listdir(path)


@contextmanager
def publish_dir(target: str) -> Iterator[str]:
    """Build a directory under a temporary name, then rename it to ``target``.

    Usage::

        with publish_dir('/cache/x') as tmp:
            write_files_into(tmp)
        # '/cache/x' now exists, complete

    If another process published ``target`` first (two ranks building the
    same split at once), our copy is discarded and theirs is kept; callers
    then read ``target`` as usual. On an exception the temporary folder is
    removed and the exception propagates.

    Args:
        target (str): Final path of the directory. Its parent is created.
            An existing *empty* directory at ``target`` is replaced.

    Yields:
        str: The temporary directory to fill.
    """
    target = osp.abspath(target)
    parent = osp.dirname(target)
    os.makedirs(parent, exist_ok=True)
    tmp = _temp_sibling(target)
    os.mkdir(tmp)
    try:
        yield tmp
        if _is_empty_dir(target):
            os.rmdir(target)
        try:
            os.rename(tmp, target)
        except OSError as e:
            # Lost a race: someone else renamed a complete copy into place.
            if e.errno in (errno.ENOTEMPTY,
                           errno.EEXIST) and osp.isdir(target):
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_text(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``.

    Args:
        path (str): Destination file; its folder is created if needed.
        text (str): Full content.
    """
    path = osp.abspath(path)
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    tmp = _temp_sibling(path)
    try:
        with open(tmp, 'x') as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
