"""Evaluate dumped codes offline: any metric, any tie / zero-hit policy,
without running the network again.

The codes file is written by ``tools/test.py CONFIG CKPT --out codes.npz``
(``HammingRetrievalMetric(out_file=...)``); its format is documented in
``hashplugins/evaluation/functional/io.py``.

Examples:
    python tools/analysis_tools/eval_codes.py codes.npz
    python tools/analysis_tools/eval_codes.py codes.npz \\
        --metrics mAP MAP@H P@H P@N PR --topk all 1000 --radius 2 \\
        --tie-break average --zero-hit exclude --out-json run.json
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from hashplugins.evaluation.curves import make_record, save_record  # noqa
from hashplugins.evaluation.functional import (  # noqa: E402
    METRIC_FAMILIES, TIE_POLICIES, ZERO_HIT_POLICIES,
    hamming_retrieval_metrics, load_codes)


def _topk(value: str):
    if value == 'all':
        return None
    k = int(value)
    if k < 1:
        raise argparse.ArgumentTypeError(f'topk must be >= 1 or "all": {k}')
    return k


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate a codes file written by tools/test.py --out')
    parser.add_argument('codes', help='codes file (.npz)')
    parser.add_argument(
        '--metrics',
        nargs='+',
        default=['mAP'],
        choices=METRIC_FAMILIES,
        help='metric families (default: mAP)')
    parser.add_argument(
        '--topk',
        nargs='+',
        type=_topk,
        default=[None],
        help='K values for mAP@K; "all" for the whole database '
        '(default: all)')
    parser.add_argument(
        '--radius',
        nargs='+',
        type=int,
        default=[2],
        help='Hamming radii for MAP@H, P@H, R@H (default: 2)')
    parser.add_argument(
        '--precision-at',
        nargs='+',
        type=int,
        default=[100, 1000],
        help='N values for P@N and R@N (default: 100 1000)')
    parser.add_argument(
        '--pr-topn',
        nargs='+',
        type=int,
        default=None,
        help='N values of the PR-by-N curve (default: 1 ... 1000)')
    parser.add_argument(
        '--tie-break',
        choices=TIE_POLICIES,
        default='index',
        help='index: ties by database position; average: exact '
        'expectation over random tie orders (default: index)')
    parser.add_argument(
        '--zero-hit',
        choices=ZERO_HIT_POLICIES,
        default='zero',
        help='zero: queries without a relevant item score 0 and count; '
        'exclude: they are dropped from the mean (default: zero)')
    parser.add_argument(
        '--device',
        default='cpu',
        help='cpu (numpy engine) or a torch device such as cuda')
    parser.add_argument(
        '--out-json',
        help='write metrics and curves here (read by '
        'tools/analysis_tools/plot_curves.py)')
    parser.add_argument(
        '--label', help='run name in the JSON (default: the codes file name)')
    parser.add_argument(
        '--clamp-topk',
        action='store_true',
        help='accept a --topk above the database size and report it as '
        'mAP@all (named so), as the reference loops clamp K; without it '
        'such a K is an error')
    return parser.parse_args(argv)


def _topk_within_database(args, num_database):
    """``args.topk`` with every K above the database size refused, or
    (``--clamp-topk``) replaced by ``None``: its mAP@K is mAP@all and is
    reported under that name."""
    too_big = [k for k in args.topk if k is not None and k > num_database]
    if not too_big or 'mAP' not in args.metrics:
        return args.topk
    if not args.clamp_topk:
        raise SystemExit(
            f'eval_codes.py: --topk {too_big[0]} is larger than the database '
            f'of {args.codes} ({num_database} items), so mAP@{too_big[0]} '
            'would be mAP@all; use --topk all, a K of at most '
            f'{num_database}, or --clamp-topk to report it as mAP@all')
    print(f'--topk {" ".join(map(str, too_big))}: larger than the database '
          f'({num_database} items), reported as mAP@all')
    topk = [None if k in too_big else k for k in args.topk]
    return list(dict.fromkeys(topk))  # one mAP@all


def main(argv=None):
    args = parse_args(argv)
    data = load_codes(args.codes)
    q_codes, db_codes = data.unpacked()
    topk = _topk_within_database(args, len(db_codes))
    start = time.perf_counter()
    results = hamming_retrieval_metrics(
        q_codes,
        db_codes,
        data.query_labels,
        data.db_labels,
        metrics=args.metrics,
        topk=topk,
        radius=args.radius,
        precision_at=args.precision_at,
        pr_topn=args.pr_topn,
        zero_hit=args.zero_hit,
        tie_break=args.tie_break,
        device=args.device)
    seconds = time.perf_counter() - start
    print(f'{args.codes}: {len(q_codes)} queries, {len(db_codes)} database '
          f'items, {data.num_bits} bits, {data.query_labels.shape[1]} '
          f'classes; tie_break={args.tie_break}, zero_hit={args.zero_hit}')
    width = max([len(k) for k in results] + [6])
    print(f'{"metric":<{width}}  value')
    for name, value in results.items():
        if isinstance(value, dict):
            x = 'radius' if 'radius' in value else 'n'
            print(f'{name:<{width}}  curve over {len(value[x])} {x} values')
        else:
            print(f'{name:<{width}}  {value:.6f}')
    print(f'({seconds:.2f} s)')
    if args.out_json:
        label = args.label or osp.splitext(osp.basename(args.codes))[0]
        record = make_record(
            results,
            label=label,
            num_bits=data.num_bits,
            tie_break=args.tie_break,
            zero_hit=args.zero_hit,
            num_query=len(q_codes),
            num_database=len(db_codes),
            codes_file=osp.abspath(args.codes))
        save_record(args.out_json, record)
        print(f'wrote {args.out_json}')


if __name__ == '__main__':
    main()
