"""PR-curve records: a small JSON file per evaluation, and their plot.

Written by :class:`HammingRetrievalMetric` (``metrics=(..., 'PR')``) and by
``tools/analysis_tools/eval_codes.py --out-json``; read and drawn together
by ``tools/analysis_tools/plot_curves.py``. A record is::

    {"format": "hashplugins-curves", "format_version": 1,
     "label": "run name", "num_bits": 64, "tie_break": "index",
     "zero_hit": "zero", "num_query": 5000, "num_database": 128495,
     "metrics": {"mAP@1000": 0.71, ...},
     "pr_by_radius": {"radius": [0..B], "precision": [...],
                      "recall": [...]},            # empty ball: precision 0
     "pr_by_topn": {"n": [...], "precision": [...], "recall": [...]}}

Both curve entries are optional. Files are written to a temporary name and
renamed. Plots use matplotlib's Agg canvas directly (no pyplot, no global
backend change).
"""
import json
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np

from .functional.io import atomic_output

FORMAT = 'hashplugins-curves'
FORMAT_VERSION = 1
CURVE_KEYS = ('pr_by_radius', 'pr_by_topn')


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (np.ndarray, list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def make_record(results: dict, label: str, **info) -> dict:
    """A curves record from :func:`hamming_retrieval_metrics` results.

    Args:
        results: Scalars by name plus optional ``'pr_by_radius'`` /
            ``'pr_by_topn'`` dicts of arrays.
        label: Name of the run in plot legends.
        **info: Extra fields (``num_bits``, ``tie_break``, ``zero_hit``,
            ``num_query``, ``num_database``, ...).

    Returns:
        A JSON-serializable dict.
    """
    record = dict(format=FORMAT, format_version=FORMAT_VERSION, label=label)
    record.update(_jsonable(info))
    record['metrics'] = {
        k: float(v)
        for k, v in results.items() if k not in CURVE_KEYS
    }
    for key in CURVE_KEYS:
        if key in results:
            record[key] = _jsonable(results[key])
    return record


def save_record(path: str, record: dict) -> None:
    """Write a record as JSON, atomically (temporary name, then rename)."""
    with atomic_output(path) as tmp, open(tmp, 'w') as f:
        json.dump(record, f, indent=1)


def load_record(path: str) -> dict:
    """Read and check a record written by :func:`save_record`."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'curves file {path} does not exist')
    try:
        with open(path) as f:
            record = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path} is not a {FORMAT} file (not JSON: '
                         f'{err})') from None
    if not isinstance(record, dict) or record.get('format') != FORMAT:
        raise ValueError(f'{path} is not a {FORMAT} file (key "format")')
    if record.get('format_version') != FORMAT_VERSION:
        raise ValueError(f'{path}: unsupported format_version '
                         f'{record.get("format_version")}; this version '
                         f'reads {FORMAT_VERSION}')
    for key in CURVE_KEYS:
        curve = record.get(key)
        if curve is None:
            continue
        x = 'radius' if key == 'pr_by_radius' else 'n'
        missing = [k for k in (x, 'precision', 'recall') if k not in curve]
        if missing:
            raise ValueError(f'{path}: "{key}" lacks {missing}')
        if not len(curve[x]) == len(curve['precision']) == len(
                curve['recall']):
            raise ValueError(f'{path}: "{key}" arrays differ in length')
    return record


def plot_records(records: Sequence[dict],
                 out_path: str,
                 labels: Optional[List[str]] = None,
                 title: Optional[str] = None) -> None:
    """Draw the curves of several records in one PNG.

    Panels (those present in any record): precision-recall by Hamming
    radius, precision-recall by number retrieved, and precision@N against
    N.

    Args:
        records: Curve records.
        out_path: PNG path (written atomically).
        labels: Legend names; default each record's ``label``.
        title: Figure title.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = labels or [
        r.get('label', f'run {i}') for i, r in enumerate(records)
    ]
    panels = []
    if any('pr_by_radius' in r for r in records):
        panels.append(('pr_by_radius', 'recall', 'precision',
                       'PR by Hamming radius r = 0..B'))
    if any('pr_by_topn' in r for r in records):
        panels.append(
            ('pr_by_topn', 'recall', 'precision', 'PR by number retrieved N'))
        panels.append(('pr_by_topn', 'n', 'precision', 'precision@N'))
    if not panels:
        raise ValueError('none of the records holds a curve')
    fig = Figure(figsize=(5 * len(panels), 4.2))
    FigureCanvasAgg(fig)
    for j, (key, x, y, name) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), j + 1)
        for record, label in zip(records, labels):
            if key in record:
                ax.plot(
                    record[key][x], record[key][y], marker='.', label=label)
        ax.set_xlabel('N' if x == 'n' else x)
        ax.set_ylabel(y)
        ax.set_title(name, fontsize=10)
        if x == 'n':
            ax.set_xscale('log')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(out_path) as tmp:
        fig.savefig(tmp, format='png', dpi=110)
