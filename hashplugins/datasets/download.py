"""Download a file atomically, resumably and checked, with a progress bar.

:func:`download_url` fetches into a hidden ``.<name>.part`` beside the
destination and renames it into place only after its md5 matches, so the
final name either holds a complete, verified file or does not exist. An
interrupted transfer keeps the ``.part`` file; the next call asks the
server for the rest (an HTTP ``Range`` request) and starts over only if the
server ignores it. A lock file serializes processes that download the same
file at once (distributed ranks): the second waits, then finds the file
done. Nothing here runs at import time; nothing downloads unless asked.
"""
import contextlib
import hashlib
import http.client
import math
import os
import os.path as osp
import sys
import urllib.error
import urllib.request
from typing import Iterator, Optional

from mmengine.utils import ProgressBar

from .errors import DataNotFoundError

try:
    import fcntl
except ImportError:  # not POSIX: no cross-process lock
    fcntl = None

CHUNK = 1 << 20  # 1 MiB: one progress step


class DownloadError(DataNotFoundError):
    """A download failed or gave the wrong bytes; the message says what was
    kept and what to do (run again to resume, check the URL or md5)."""


def md5sum(path: str, chunk: int = CHUNK) -> str:
    """Hex md5 of a file, read in chunks."""
    h = hashlib.md5()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            h.update(block)
    return h.hexdigest()


def part_path(path: str) -> str:
    """The hidden name a download of ``path`` is written under."""
    return osp.join(osp.dirname(path), f'.{osp.basename(path)}.part')


@contextlib.contextmanager
def file_lock(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<dir>/.<name>.lock`` (blocking).

    The lock file stays (hidden, empty); removing it would race with a
    process about to lock it.
    """
    lock = osp.join(osp.dirname(path), f'.{osp.basename(path)}.lock')
    os.makedirs(osp.dirname(lock), exist_ok=True)
    with open(lock, 'a') as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _check_md5(path: str, md5: Optional[str], url: str) -> None:
    if md5 is None:
        return
    got = md5sum(path)
    if got != md5.lower():
        raise DownloadError(
            f'{path} exists but its md5 is {got}, not the expected {md5} of '
            f'{url}: delete it and run again (or pass the right md5)')


def download_url(url: str,
                 path: str,
                 md5: Optional[str] = None,
                 timeout: float = 60.0,
                 file=None) -> str:
    """Download ``url`` to ``path`` unless it is there; check its md5.

    Args:
        url (str): http(s) URL.
        path (str): Destination file; its folder is created.
        md5 (str, optional): Expected hex md5. A download that does not
            match is deleted (the final name is never written); an existing
            ``path`` that does not match raises.
        timeout (float): Seconds a connect or read may stall.
        file: Stream for the progress bar (default ``sys.stdout``).

    Returns:
        str: ``path`` (absolute).

    Raises:
        DownloadError: Unreachable server, HTTP error, interrupted transfer
            (the part is kept for resuming), or md5 mismatch.
    """
    path = osp.abspath(osp.expanduser(path))
    if osp.isfile(path):
        _check_md5(path, md5, url)
        return path
    with file_lock(path):
        if osp.isfile(path):  # another process finished it meanwhile
            _check_md5(path, md5, url)
            return path
        part = part_path(path)
        _fetch(url, part, timeout, file or sys.stdout)
        if md5 is not None:
            got = md5sum(part)
            if got != md5.lower():
                os.remove(part)
                raise DownloadError(
                    f'the download of {url} has md5 {got}, expected {md5}; '
                    f'it was deleted and {path} was not written. Check the '
                    'URL (a proxy or captive portal page?) or the md5, and '
                    'run again')
        os.replace(part, path)
    return path


def _open(url: str, have: int, timeout: float):
    headers = {'User-Agent': 'hashplugins'}
    if have:
        headers['Range'] = f'bytes={have}-'
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            return None  # the part is already whole; the md5 decides
        raise DownloadError(f'downloading {url} failed: HTTP {e.code} '
                            f'{e.reason}') from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, 'reason', e)
        raise DownloadError(
            f'cannot download {url}: {reason}. Without internet access, '
            'download the file elsewhere and put it in place (see '
            'docs/datasets.md)') from None


def _fetch(url: str, part: str, timeout: float, file) -> None:
    """Append the missing bytes of ``url`` to ``part`` (or write it anew)."""
    have = osp.getsize(part) if osp.isfile(part) else 0
    resp = _open(url, have, timeout)
    if resp is None:
        return
    with resp:
        resumed = have > 0 and resp.status == 206
        offset = have if resumed else 0
        length = resp.headers.get('Content-Length')
        length = int(length) if length and length.isdigit() else None
        total = None if length is None else offset + length
        size = '' if total is None else f' ({total / CHUNK:.1f} MiB)'
        resume = f', resuming after {offset} bytes' if resumed else ''
        print(f'downloading {url}{size}{resume}', file=file, flush=True)
        steps = 0 if length is None else max(1, math.ceil(length / CHUNK))
        bar = ProgressBar(steps, file=file)
        got = 0
        try:
            with open(part, 'ab' if resumed else 'wb') as f:
                while True:
                    block = resp.read(CHUNK)
                    if not block:
                        break
                    f.write(block)
                    got += len(block)
                    # One step per MiB received, the last (partial) one at
                    # the end; without a length, one per MiB.
                    done = got // CHUNK
                    if length is not None and got == length:
                        done = steps
                    if done > bar.completed:
                        bar.update(done - bar.completed)
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError(
                _interrupted(url, part, offset + got, total, e)) from None
        finally:
            file.write('\n')
            file.flush()
    if length is not None and got != length:
        raise DownloadError(
            _interrupted(url, part, offset + got, total,
                         'the connection closed early'))


def _interrupted(url, part, done, total, reason) -> str:
    of = f' of {total}' if total is not None else ''
    return (f'the download of {url} stopped after {done}{of} bytes '
            f'({reason}); the part is kept as {part}: run again to resume')
