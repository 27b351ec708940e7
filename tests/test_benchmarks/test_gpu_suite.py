"""``benchmarks/gpu_suite.py --smoke``: every part runs at tiny size on the
CPU and writes its results (the full run needs a GPU)."""
import json
import math
import os
import os.path as osp
import subprocess
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'benchmarks', 'gpu_suite.py')
sys.path.insert(0, osp.join(REPO, 'benchmarks'))
from bench_utils import cpu_name  # noqa: E402

PARTS = {
    'dpsh_train': ('images_per_s', 'median_s_per_iter',
                   'ratio_runner_over_plain_fp32',
                   'ratio_runner_amp_over_plain_autocast',
                   'speedup_amp_over_fp32_runner', 'timing'),
    'metric_backend': ('problem', 'median_s', 'identical', 'max_abs_diff',
                       'speedup_torch_device_over_numpy', 'scalars',
                       'timing'),
    'dadh_run': ('iterations', 'b_steps', 'median_s_per_iter',
                 'wall_s_per_iter', 'max_memory_allocated_mib', 'data',
                 'synthetic_data', 'stopped_by_budget'),
    'gan_steps': ('cases', 'timing'),
}
MACHINE_KEYS = ('device', 'cuda', 'torch', 'cpu', 'cpu_count')


def _numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _numbers(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def _env():
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               OPENBLAS_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def test_smoke_writes_every_part(tmp_path):
    out = tmp_path / 'gpu'
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--smoke', '--threads', '1', '--out-dir',
         str(out)], cwd=REPO, env=_env(), capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    for name, keys in PARTS.items():
        path = out / f'{name}.json'
        assert path.exists(), f'{name}.json not written'
        part = json.loads(path.read_text())
        assert part['status'] == 'ok', part['error']
        assert part['smoke'] is True
        for key in MACHINE_KEYS:
            assert key in part['machine']
        result = part['result']
        for key in keys:
            assert key in result, f'{name}: no {key!r}'
        values = list(_numbers(result))
        assert values and all(math.isfinite(v) for v in values), name
    a = json.loads((out / 'dpsh_train.json').read_text())['result']
    assert set(a['images_per_s']) == {'runner_fp32', 'runner_amp_bf16',
                                      'plain_fp32', 'plain_autocast_bf16'}
    assert all(v > 0 for v in a['images_per_s'].values())
    assert a['timing']['repeats_run'] >= 1
    b = json.loads((out / 'metric_backend.json').read_text())['result']
    assert b['identical'] is True and b['max_abs_diff'] == 0
    assert b['problem']['num_query'] == 200
    assert b['problem']['num_db'] == 1000
    c = json.loads((out / 'dadh_run.json').read_text())['result']
    assert c['iterations'] == c['iterations_asked'] == 4
    assert len(c['b_steps']) >= 1  # DADHCodeUpdateHook ran
    d = json.loads((out / 'gan_steps.json').read_text())['result']
    assert set(d['cases']) == {'dsh_gans_pretrain', 'dsh_gans_joint',
                               'ganreg_stage1'}
    assert all(c['iters_per_s'] > 0 for c in d['cases'].values())
    summary = json.loads((out / 'gpu_suite.json').read_text())
    assert summary['failed'] == [] and set(summary['parts']) == set(PARTS)
    md = (out / 'gpu_suite.md').read_text()
    assert cpu_name() in md and 'Smoke run' in md
    assert f'torch {torch.__version__}' in md
    for name in PARTS:
        assert f'{name}: ok' in md


def test_full_run_without_cuda_says_so(tmp_path):
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--out-dir', str(tmp_path)], cwd=REPO,
        env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert 'no CUDA device: run with --smoke on CPU' in proc.stderr
    assert not os.listdir(tmp_path)


def test_failed_part_is_recorded_and_the_others_run(tmp_path, monkeypatch):
    import gpu_suite

    def broken(device, size, smoke):
        raise RuntimeError('part a broke on purpose')

    monkeypatch.setitem(gpu_suite.PARTS, 'a', ('dpsh_train', broken))
    threads = torch.get_num_threads()
    try:
        code = gpu_suite.main(['--smoke', '--parts', 'a', 'b', '--out-dir',
                               str(tmp_path)])
    finally:
        torch.set_num_threads(threads)
    assert code == 1
    a = json.loads((tmp_path / 'dpsh_train.json').read_text())
    assert a['status'] == 'failed' and a['result'] is None
    assert 'part a broke on purpose' in a['error']
    b = json.loads((tmp_path / 'metric_backend.json').read_text())
    assert b['status'] == 'ok' and b['result']['identical'] is True
    summary = json.loads((tmp_path / 'gpu_suite.json').read_text())
    assert summary['failed'] == ['dpsh_train']
    md = (tmp_path / 'gpu_suite.md').read_text()
    assert 'dpsh_train: failed' in md and 'part a broke on purpose' in md
