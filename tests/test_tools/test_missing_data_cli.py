"""The README's headline command on a machine without data: a short message
naming the config key, the layout and the command that gets the data; no
Runner log, no traceback, no network access."""
import os
import os.path as osp
import subprocess
import sys

HEADLINE = 'configs/dpsh/dpsh_r50_cifar10_48bit.py'
# Any socket connect or name lookup fails loudly: nothing may try the network.
GUARD = '''
import runpy, socket, sys
def _no_network(*args, **kwargs):
    raise RuntimeError('network access attempted: %r' % (args[1:],))
socket.socket.connect = _no_network
socket.socket.connect_ex = _no_network
socket.getaddrinfo = _no_network
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def _headline(repo_root, cwd, tool='train.py', extra_args=(), **env_extra):
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHONUNBUFFERED='1',
        HASHPLUGINS_CACHE=str(cwd / 'cache'),
        HASHPLUGINS_DATA=str(cwd / 'shared-data'))
    env.pop('HASHPLUGINS_TRACEBACK', None)
    env.update(env_extra)
    args = [
        sys.executable, '-c', GUARD,
        osp.join(repo_root, 'tools', tool),
        osp.join(repo_root, HEADLINE), *extra_args
    ]
    # cwd is an empty folder: the config's data_root='data/cifar10' is
    # missing there, as on a fresh machine.
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_headline_command_without_data_is_short(repo_root, tmp_path):
    proc = _headline(repo_root, tmp_path)
    out = proc.stdout + proc.stderr
    lines = out.strip().splitlines()
    assert proc.returncode == 1, out
    assert len(lines) < 15, out
    assert 'network access attempted' not in out
    assert 'Traceback' not in out and 'Config:' not in out, out
    root = tmp_path / 'data' / 'cifar10'
    assert (f'error: train_dataloader.dataset.data_root={root} does not '
            'exist (CIFAR10Hashing)') in out
    assert 'expected: <data_root>/cifar-10-batches-py/' in out
    assert ('to get it: python tools/dataset_converters/download_cifar10.py '
            'data/cifar10') in out
    assert 'docs/datasets.md' in out and 'HASHPLUGINS_TRACEBACK=1' in out
    assert not (tmp_path / 'work_dirs').exists()  # no Runner was built


def test_traceback_on_request(repo_root, tmp_path):
    proc = _headline(repo_root, tmp_path, HASHPLUGINS_TRACEBACK='1')
    assert proc.returncode == 1
    assert 'Traceback' in proc.stderr
    assert 'DataNotFoundError: train_dataloader.dataset.data_root=' in (
        proc.stderr)
    assert 'network access attempted' not in proc.stderr


def test_test_tool_without_data_is_short(repo_root, tmp_path):
    """tools/test.py gets the same one-message treatment (its checkpoint is
    never opened: the data check runs before the Runner)."""
    proc = _headline(repo_root, tmp_path, tool='test.py',
                     extra_args=(str(tmp_path / 'never_read.pth'), ))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert len(out.strip().splitlines()) < 15, out
    assert 'Traceback' not in out and 'network access attempted' not in out
    root = tmp_path / 'data' / 'cifar10'
    keys = [f'error: test_dataloader.dataset.{part}.data_root={root}'
            for part in ('query', 'database')]
    assert any(key in out for key in keys), out
