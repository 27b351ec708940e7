"""Bit balance, bit correlation and bucket occupancy of binary codes, as
JSON numbers and a plot. Reads an index file (``tools/encode.py``) or a
codes file (``tools/test.py --out``, database or query codes).

Examples:
    python tools/analysis_tools/code_stats.py work_dirs/db.index.npz \\
        --out-json stats.json --out-png stats.png
    python tools/analysis_tools/code_stats.py codes.npz --split query
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))

import numpy as np  # noqa: E402

from hashplugins.evaluation.functional import load_codes  # noqa: E402
from hashplugins.evaluation.functional.io import atomic_output  # noqa: E402
from hashplugins.retrieval.code_stats import (code_stats,  # noqa: E402
                                              plot_code_stats)
from hashplugins.retrieval.index_file import (FORMAT,  # noqa: E402
                                              read_index_file)


def load_packed(path: str, split: str):
    """``(packed codes, num_bits)`` from an index or a codes file."""
    with np.load(path, allow_pickle=False) as archive:
        kind = str(archive['format']) if 'format' in archive.files else None
    if kind == FORMAT:
        contents = read_index_file(path)
        return contents.codes, contents.num_bits
    codes = load_codes(path)
    return (codes.db_codes if split == 'database' else codes.query_codes,
            codes.num_bits)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Statistics of codes')
    parser.add_argument('codes', help='index file or codes file (.npz)')
    parser.add_argument(
        '--split', default='database', choices=['database', 'query'],
        help='which codes of a codes file (an index has one set)')
    parser.add_argument('--out-json', help='write the numbers here')
    parser.add_argument('--out-png', help='write the plots here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    packed, num_bits = load_packed(args.codes, args.split)
    stats = code_stats(packed, num_bits)
    stats['source'] = dict(file=args.codes, split=args.split)
    bal, corr, buckets = (stats['bit_balance'], stats['bit_correlation'],
                          stats['buckets'])
    print(f'{stats["num_codes"]} codes of {num_bits} bits from '
          f'{args.codes}\n'
          f'bit balance: mean |2p-1| {bal["mean_abs_imbalance"]:.4f}, max '
          f'{bal["max_abs_imbalance"]:.4f}, constant bits '
          f'{bal["constant_bits"]}\n'
          f'bit correlation: mean |off-diagonal| '
          f'{corr["mean_abs_off_diagonal"]:.4f}, max '
          f'{corr["max_abs_off_diagonal"]:.4f}\n'
          f'buckets: {buckets["num_buckets"]} distinct codes, largest '
          f'{buckets["largest"]}, {buckets["rows_in_singletons"]} rows '
          f'alone, entropy {buckets["entropy_bits"]:.2f} of at most '
          f'{buckets["max_entropy_bits"]:.2f} bits')
    if args.out_json:
        with atomic_output(args.out_json) as tmp, open(tmp, 'w') as f:
            json.dump(stats, f, indent=1)
    if args.out_png:
        plot_code_stats(stats, args.out_png,
                        title=f'{osp.basename(args.codes)} ({args.split})')
    return stats


if __name__ == '__main__':
    main()
