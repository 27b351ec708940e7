"""tools/analysis_tools/eval_codes.py (as a subprocess, exactly as a user
runs it) and plot_curves.py (as ``__main__`` through runpy in this process:
a second interpreter would only re-pay the ~10 s mmpretrain import) on a
tiny codes file, plus their errors."""
import importlib.util
import json
import os.path as osp
import runpy
import subprocess
import sys

import numpy as np
import pytest

from hashplugins.evaluation.curves import make_record, save_record
from hashplugins.evaluation.functional import (hamming_retrieval_metrics,
                                               pack_codes, save_codes)

from .synthetic import make_problem

TOOLS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools',
    'analysis_tools')


def _load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def codes_file(tmp_path):
    q, d, ql, dl = make_problem(
        21, 12, num_query=10, num_db=60, multi_label=True)
    path = str(tmp_path / 'codes.npz')
    save_codes(path, pack_codes(q), pack_codes(d), ql, dl, 12)
    return path, (q, d, ql, dl)


def test_tools_end_to_end(tmp_path, codes_file):
    path, (q, d, ql, dl) = codes_file
    out_json = str(tmp_path / 'run.json')
    runs = []
    for i, tie_break in enumerate(('index', 'average')):
        results = hamming_retrieval_metrics(
            q, d, ql, dl, metrics=('PR', ), tie_break=tie_break)
        runs.append(str(tmp_path / f'r{i}.json'))
        save_record(runs[-1], make_record(results, label=tie_break))
    png = str(tmp_path / 'fig.png')
    evaluate = subprocess.Popen([
        sys.executable,
        osp.join(TOOLS, 'eval_codes.py'), path, '--metrics', 'mAP', 'MAP@H',
        'P@H', 'PR', '--topk', 'all', '5', '--tie-break', 'average',
        '--zero-hit', 'exclude', '--out-json', out_json
    ],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                text=True)
    argv = sys.argv
    try:  # plot while eval_codes.py runs
        sys.argv = [
            'plot_curves.py', *runs, '--labels', 'index', 'average', '--out',
            png
        ]
        runpy.run_path(osp.join(TOOLS, 'plot_curves.py'), run_name='__main__')
    finally:
        sys.argv = argv
    stdout, _ = evaluate.communicate()
    assert evaluate.returncode == 0, stdout
    expected = hamming_retrieval_metrics(
        q,
        d,
        ql,
        dl,
        metrics=('mAP', 'MAP@H', 'P@H', 'PR'),
        topk=(None, 5),
        tie_break='average',
        zero_hit='exclude')
    for name in ('mAP@all', 'mAP@5', 'MAP@H<=2', 'P@H<=2'):
        assert f'{name:<12}  {expected[name]:.6f}' in stdout, stdout
    with open(out_json) as f:
        record = json.load(f)
    assert record['tie_break'] == 'average'
    assert record['metrics']['mAP@5'] == expected['mAP@5']
    np.testing.assert_array_equal(record['pr_by_radius']['precision'],
                                  expected['pr_by_radius']['precision'])
    with open(png, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_tool_errors(tmp_path, codes_file):
    eval_codes = _load_tool('eval_codes')
    plot_curves = _load_tool('plot_curves')
    bad = tmp_path / 'bad.npz'
    bad.write_text('not an archive')
    with pytest.raises(ValueError, match='bad.npz is not a codes file'):
        eval_codes.main([str(bad)])
    with pytest.raises(SystemExit):
        eval_codes.main([codes_file[0], '--topk', '0'])
    with pytest.raises(ValueError, match='not a hashplugins-curves file'):
        plot_curves.main([codes_file[0], '--out', str(tmp_path / 'x.png')])
    with pytest.raises(SystemExit, match='2 names for 1 records'):
        plot_curves.main([
            codes_file[0], '--labels', 'a', 'b', '--out',
            str(tmp_path / 'x.png')
        ])
