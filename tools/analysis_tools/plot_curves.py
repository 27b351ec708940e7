"""Draw the PR / precision@N curves of several runs in one picture.

Inputs are curve records (JSON) written by ``HammingRetrievalMetric``
(``metrics=(..., 'PR')``, under ``<log dir>/pr_curves/``) or by
``tools/analysis_tools/eval_codes.py --metrics PR --out-json``.

Example:
    python tools/analysis_tools/plot_curves.py a.json b.json \\
        --labels DPSH-48 TAH-48 --out pr.png
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hashplugins.evaluation.curves import load_record, plot_records  # noqa


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Plot PR-by-radius, PR-by-N and precision@N curves of '
        'several runs')
    parser.add_argument('records', nargs='+', help='curve JSON files')
    parser.add_argument('--out', required=True, help='output PNG')
    parser.add_argument(
        '--labels', nargs='+', help='legend names (default: each label)')
    parser.add_argument('--title', help='figure title')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.labels and len(args.labels) != len(args.records):
        raise SystemExit(f'--labels has {len(args.labels)} names for '
                         f'{len(args.records)} records')
    records = [load_record(path) for path in args.records]
    plot_records(records, args.out, labels=args.labels, title=args.title)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
