"""CIFAR-10 download: a local HTTP server on 127.0.0.1 serves a tiny
archive in the official layout (its md5 passed in; the official md5 stays
the default). Atomic (no file under the final name unless complete and
checked), resumable, downloaded once, extracted safely, loaded through the
restricted unpickler."""
import hashlib
import http.server
import importlib.util
import io
import os
import os.path as osp
import pickle
import tarfile
import threading

import numpy as np
import pytest

from hashplugins.datasets import CIFAR10Hashing, download_cifar10
from hashplugins.datasets.cifar10_download import CIFAR10_MD5, CIFAR10_URL
from hashplugins.datasets.download import DownloadError, part_path
from hashplugins.datasets.errors import DataNotFoundError

BATCHES = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
PER_BATCH = 4


def _batch(b):
    data = np.zeros((PER_BATCH, 3072), np.uint8)
    data[:, :1024] = (b * 20 + np.arange(PER_BATCH))[:, None]  # R plane
    labels = [(b * PER_BATCH + i) % 10 for i in range(PER_BATCH)]
    return pickle.dumps(
        {
            b'data': data,
            b'labels': labels,
            b'batch_label': b'x'
        }, protocol=2)


def make_archive(members=None):
    """A .tar.gz in the official layout (tiny arrays), as bytes."""
    if members is None:
        members = [(f'cifar-10-batches-py/{n}', _batch(b))
                   for b, n in enumerate(BATCHES)]
        members.append(('cifar-10-batches-py/batches.meta',
                        pickle.dumps({b'label_names': [b'airplane'] * 10},
                                     protocol=2)))
        members.insert(0, ('cifar-10-batches-py', None))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w:gz') as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(data, tuple):
                info.type = tarfile.SYMTYPE
                info.linkname = data[1]
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):

    def log_message(self, *args):
        pass

    def do_GET(self):
        state = self.server.state
        state['requests'].append(self.headers.get('Range'))
        body = state['files'].get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get('Range')
        if rng and state['ranges']:
            start = int(rng.split('=')[1].split('-')[0])
            self.send_response(206)
            self.send_header('Content-Range',
                             f'bytes {start}-{len(body) - 1}/{len(body)}')
        else:
            self.send_response(200)
        self.send_header('Content-Length', str(len(body) - start))
        self.end_headers()
        cut = state.pop('cut', None)  # send only this many bytes, then close
        self.wfile.write(body[start:cut])
        self.wfile.flush()
        if cut is not None:
            self.close_connection = True


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    httpd.state = dict(files={}, requests=[], ranges=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f'http://127.0.0.1:{httpd.server_address[1]}'
    yield base, httpd.state
    httpd.shutdown()
    httpd.server_close()


def _serve(server, data, name='/cifar-10-python.tar.gz'):
    base, state = server
    state['files'][name] = data
    return base + name, hashlib.md5(data).hexdigest(), state


def _leftovers(root):
    return sorted(
        n for n in os.listdir(root)
        if n.startswith('.tmp') or n.endswith('.part'))


def test_official_url_and_md5_are_the_defaults():
    assert CIFAR10_URL == ('https://www.cs.toronto.edu/~kriz/'
                           'cifar-10-python.tar.gz')
    assert CIFAR10_MD5 == 'c58f30108f718f92721af3b95e74349a'


def test_download_extract_load_and_no_second_download(server, tmp_path,
                                                      tmp_cache, capsys):
    url, md5, state = _serve(server, make_archive())
    root = tmp_path / 'cifar10'
    folder = download_cifar10(str(root), url=url, md5=md5)
    assert folder == str(root / 'cifar-10-batches-py')
    assert sorted(os.listdir(folder)) == sorted(BATCHES + ['batches.meta'])
    assert (root / 'cifar-10-python.tar.gz'
            ).read_bytes() == state['files']['/cifar-10-python.tar.gz']
    assert _leftovers(root) == []
    out = capsys.readouterr().out
    assert f'downloading {url}' in out and 'extracting' in out
    assert '[' in out and 'elapsed' in out  # mmengine ProgressBar
    assert len(state['requests']) == 1

    ds = CIFAR10Hashing(str(root), split='all')
    assert len(ds) == 6 * PER_BATCH and ds.IN_MEMORY
    assert ds.get_data_info(5)['img'][0, 0].tolist() == [0, 0, 21]  # BGR
    # Present data: neither the function nor download=True fetches again.
    assert download_cifar10(str(root), url=url, md5=md5) == folder
    CIFAR10Hashing(str(root), split='all', download=dict(url=url, md5=md5))
    assert len(state['requests']) == 1


def test_dataset_download_option(server, tmp_path, tmp_cache):
    url, md5, state = _serve(server, make_archive())
    root = str(tmp_path / 'fresh' / 'cifar10')
    ds = CIFAR10Hashing(root, split='all', download=dict(url=url, md5=md5))
    assert len(ds) == 6 * PER_BATCH
    query = CIFAR10Hashing(
        root,
        split='query',
        download=True,
        protocol=dict(
            num_query_per_class=1, num_train_per_class=1, database='rest'))
    assert len(query) == 10 and len(state['requests']) == 1
    with pytest.raises(ValueError, match='download must be'):
        CIFAR10Hashing(root, download=dict(sha='x'))


def test_wrong_md5_leaves_nothing_under_the_final_name(server, tmp_path):
    url, _, state = _serve(server, make_archive())
    root = tmp_path / 'cifar10'
    with pytest.raises(DownloadError, match=r'md5 [0-9a-f]{32}, expected 0+'):
        download_cifar10(str(root), url=url, md5='0' * 32)
    assert not (root / 'cifar-10-python.tar.gz').exists()
    assert not (root / 'cifar-10-batches-py').exists()
    assert _leftovers(root) == []  # the bad part is deleted, not resumed


def test_interrupted_download_resumes(server, tmp_path):
    data = make_archive()
    url, md5, state = _serve(server, data)
    root = tmp_path / 'cifar10'
    state['cut'] = len(data) // 2
    with pytest.raises(DownloadError, match='stopped after .* run again'):
        download_cifar10(str(root), url=url, md5=md5)
    final = root / 'cifar-10-python.tar.gz'
    assert not final.exists()
    assert not (root / 'cifar-10-batches-py').exists()
    part = part_path(str(final))
    assert osp.getsize(part) == len(data) // 2
    # The next call asks only for the rest and completes.
    download_cifar10(str(root), url=url, md5=md5)
    assert state['requests'] == [None, f'bytes={len(data) // 2}-']
    assert final.read_bytes() == data and not osp.exists(part)


def test_server_without_range_support_restarts(server, tmp_path):
    data = make_archive()
    url, md5, state = _serve(server, data)
    state['ranges'] = False
    root = tmp_path / 'cifar10'
    root.mkdir()
    final = root / 'cifar-10-python.tar.gz'
    with open(part_path(str(final)), 'wb') as f:
        f.write(b'garbage from an older attempt')
    download_cifar10(str(root), url=url, md5=md5)
    assert final.read_bytes() == data


def test_concurrent_callers_download_once(server, tmp_path):
    url, md5, state = _serve(server, make_archive())
    root = str(tmp_path / 'cifar10')
    results, errors = [], []

    def worker():
        try:
            results.append(download_cifar10(root, url=url, md5=md5))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(set(results)) == 1
    assert len(state['requests']) == 1


@pytest.mark.parametrize('member, reason', [
    (('../evil.txt', b'x'), 'climbs out'),
    (('/tmp/evil.txt', b'x'), 'absolute path'),
    (('cifar-10-batches-py/link', ('link', '/etc/passwd')), 'link'),
])
def test_unsafe_archives_are_refused(server, tmp_path, member, reason):
    members = [('cifar-10-batches-py/data_batch_1', _batch(0)), member]
    url, md5, _ = _serve(server, make_archive(members))
    root = tmp_path / 'cifar10'
    with pytest.raises(ValueError, match=reason):
        download_cifar10(str(root), url=url, md5=md5)
    assert not (root / 'cifar-10-batches-py').exists()
    assert not (tmp_path / 'evil.txt').exists()
    assert [n for n in os.listdir(root) if n.startswith('.tmp')] == []


def test_archive_without_the_pickles(server, tmp_path):
    url, md5, _ = _serve(server, make_archive([('readme.txt', b'hi')]))
    with pytest.raises(DataNotFoundError, match='not the official python'):
        download_cifar10(str(tmp_path / 'c'), url=url, md5=md5)
    assert not (tmp_path / 'c' / 'cifar-10-batches-py').exists()


def test_downloaded_pickles_are_not_unpickled_freely(server, tmp_path,
                                                     tmp_cache):

    class Evil:

        def __reduce__(self):
            return (os.system, ('echo pwned', ))

    members = [(f'cifar-10-batches-py/{n}', _batch(b))
               for b, n in enumerate(BATCHES)]
    members[2] = (members[2][0], pickle.dumps({b'data': Evil()}, protocol=2))
    url, md5, _ = _serve(server, make_archive(members))
    root = str(tmp_path / 'cifar10')
    download_cifar10(root, url=url, md5=md5)
    with pytest.raises(ValueError, match='refusing to load global'):
        CIFAR10Hashing(root, split='all')


def test_existing_archive_with_wrong_md5(server, tmp_path):
    url, md5, state = _serve(server, make_archive())
    root = tmp_path / 'cifar10'
    root.mkdir()
    (root / 'cifar-10-python.tar.gz').write_bytes(b'not it')
    with pytest.raises(DownloadError, match='exists but its md5'):
        download_cifar10(str(root), url=url, md5=md5)
    assert state['requests'] == []


def test_unreachable_server(server, tmp_path):
    base, _ = server
    with pytest.raises(DownloadError, match='HTTP 404'):
        download_cifar10(str(tmp_path / 'a'), url=base + '/nope.tar.gz')
    with pytest.raises(DownloadError, match='cannot download'):
        download_cifar10(
            str(tmp_path / 'b'), url='http://127.0.0.1:9/x.tar.gz', timeout=5)


def _tool():
    path = osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
        'dataset_converters', 'download_cifar10.py')
    spec = importlib.util.spec_from_file_location('download_cifar10', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_download_tool(server, tmp_path, capsys, monkeypatch):
    url, md5, _ = _serve(server, make_archive())
    tool = _tool()
    root = str(tmp_path / 'cifar10')
    monkeypatch.delenv('HASHPLUGINS_TRACEBACK', raising=False)
    assert tool.main([root, '--url', url, '--md5', '0' * 32]) == 1
    err = capsys.readouterr().err
    assert err.startswith('error: the download of') and 'Traceback' not in err
    assert tool.main([root, '--url', url, '--md5', md5]) == 0
    out = capsys.readouterr().out
    assert f'{4 * 5} training and {PER_BATCH} test images' in out


def test_headline_config_trains_on_the_download(server, tmp_path, tmp_cache):
    """The README's CIFAR-10 config, as shipped (its pipelines start with
    LoadImageFromFile), runs on the downloaded pickles: preflight passes
    with download=True on the training set, the training set downloads,
    the query and database sets find the pickles."""
    from mmengine.config import Config
    from mmpretrain.registry import DATASETS

    from hashplugins.datasets import check_data_roots
    url, md5, state = _serve(server, make_archive())
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(repo, 'configs/dpsh/dpsh_r50_cifar10_48bit.py'))
    root = str(tmp_path / 'data' / 'cifar10')
    tiny = dict(num_query_per_class=1, num_train_per_class=1, database='rest')
    cfg.merge_from_dict(
        {'train_dataloader.dataset.download': dict(url=url, md5=md5)})
    val = cfg.val_dataloader.dataset
    for ds in (cfg.train_dataloader.dataset, val.query, val.database):
        ds.data_root, ds.protocol = root, tiny
    check_data_roots(cfg, ('train_dataloader', 'val_dataloader'))  # train.py
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert len(state['requests']) == 1
    assert len(train) == 10 and len(val) == 10 + 4
    assert tuple(train[0]['inputs'].shape) == (3, 224, 224)  # the 224 base
    assert val[13]['data_samples'].split == 'database'
