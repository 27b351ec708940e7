"""Archive handling: refuse unsafe members, extract once, atomically."""
import io
import os
import tarfile
import zipfile

import pytest

from hashplugins.datasets import archive as A


def _tar(path, members):
    """members: list of (name, bytes | None for dir | ('link', target))."""
    with tarfile.open(path, 'w:gz') as tar:
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
    return str(path)


@pytest.mark.parametrize('member, reason', [
    ('../evil.txt', "climbs out"),
    ('/tmp/evil.txt', 'absolute path'),
    ('ok/../../evil.txt', 'climbs out'),
])
def test_unsafe_names_are_refused(tmp_path, tmp_cache, member, reason):
    path = _tar(tmp_path / 'bad.tar.gz', [('ok/a.txt', b'a'), (member, b'x')])
    with pytest.raises(ValueError, match=reason):
        A.extract_archive(path)
    assert not (tmp_cache / 'extracted').exists() or not os.listdir(
        tmp_cache / 'extracted')
    assert not (tmp_path / 'evil.txt').exists()


def test_links_are_refused(tmp_path, tmp_cache):
    path = _tar(tmp_path / 'link.tar.gz', [('d', None),
                                           ('d/l', ('link', '/etc/passwd'))])
    with pytest.raises(ValueError, match='link or special file'):
        A.extract_archive(path)


def test_zip_traversal_is_refused(tmp_path, tmp_cache):
    path = tmp_path / 'bad.zip'
    with zipfile.ZipFile(path, 'w') as zf:
        zf.writestr('../evil.txt', 'x')
    with pytest.raises(ValueError, match='climbs out'):
        A.extract_archive(str(path))


def test_extract_once_and_enter_single_folder(tmp_path, tmp_cache,
                                              monkeypatch):
    (tmp_path / 'src').mkdir()
    path = _tar(tmp_path / 'src' / 'data.tar.gz', [('top', None),
                                                   ('top/x', None),
                                                   ('top/x/a.txt', b'a'),
                                                   ('top/y', None),
                                                   ('top/y/b.txt', b'b')])
    root = A.resolve_root(path)
    assert os.path.basename(root) == 'top'
    assert sorted(os.listdir(root)) == ['x', 'y']
    assert root.startswith(str(tmp_cache / 'extracted'))

    def no_second_extraction(*args):
        raise AssertionError('extracted twice')

    monkeypatch.setattr(A, '_extract_into', no_second_extraction)
    assert A.resolve_root(path) == root
    # A folder holding only the archive stands for the archive.
    assert A.resolve_root(str(tmp_path / 'src')) == root
    leftovers = [
        n for n in os.listdir(tmp_cache / 'extracted') if n.startswith('.tmp')
    ]
    assert leftovers == []


def test_missing_and_unsupported_roots(tmp_path):
    with pytest.raises(FileNotFoundError, match='data_root=.*does not exist'):
        A.resolve_root(str(tmp_path / 'nope'))
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(FileNotFoundError, match='not a supported archive'):
        A.resolve_root(str(tmp_path / 'notes.txt'), key='root')
    with pytest.raises(FileNotFoundError, match='data_root is empty'):
        A.resolve_root('')
