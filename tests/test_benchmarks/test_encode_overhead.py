"""``benchmarks/encode_overhead.py --quick``: every case runs at tiny size
and writes its results, the variants' codes equal (the full run is timed
by hand; speed is never asserted in tests)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO, 'benchmarks', 'encode_overhead.py')


def test_quick_run_writes_every_case(tmp_path, shared_data):
    if not osp.isdir(osp.join(shared_data, 'mnist')):
        pytest.skip(f'{shared_data}/mnist is absent')
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               HASHPLUGINS_DATA=shared_data, CUDA_VISIBLE_DEVICES='')
    out = tmp_path / 'encode_overhead'
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--quick', '--out', str(out)], cwd=REPO,
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    report = json.loads((tmp_path / 'encode_overhead.json').read_text())
    assert report['quick'] is True
    for key in ('cpu', 'load_average_start', 'load_average_end'):
        assert key in report['machine']
    for case in ('dataset', 'arrays'):
        result = report['encode'][case]
        assert result['results_equal'] is True, case
        assert len(result['rows']) == 4
        for row in result['rows'].values():
            assert row['median_s'] > 0 and row['images_per_s'] > 0
    rows = report['imports']['rows']
    assert set(rows) == {'tools/encode.py --help [now]',
                         'import hashplugins.apis [now]'}
    top = report['imports']['help_importtime']['now']['top']
    assert top and all(r['cumulative_s'] >= 0 for r in top)
    assert (tmp_path / 'encode_overhead.md').exists()
