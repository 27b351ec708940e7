"""ganreg vs the same hasher without fakes, small labelled CIFAR-10.

For each regime (labelled images per class: 100 and 500 by default):

1. stage 1: train the CPU-scale DCGAN config on that regime's labelled
   training images (labels unused; seed 0, one GAN per regime), save its
   sample grid, write a fake bank (``--num-fakes``);
2. stage 2, per code length and seed: the CPU-scale ganreg config
   (``GANRegularizedHasher``, triplet on reals + max-entropy on fakes) and
   the baseline: the same backbone, head, triplet loss and schedule as a
   plain ``DeepHasher`` on the real images only.

mAP@all (queries 100/class vs the rest of CIFAR-10) through the real
``Runner`` and ``HammingRetrievalMetric``. The shared CIFAR-10 copy is
lossy JPEG. Results go to ``benchmarks/results/ganreg.{json,md}`` after
every run (``--resume`` skips finished ones); grids are copied to
``benchmarks/results/ganreg_grid_<regime>pc.png``.

Usage::

    python benchmarks/ganreg_benchmark.py [--regimes 100 500] \
        [--bits 12 32] [--seeds 0 1 2] [--gan-iters 2000] [--resume]
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import hashplugins  # noqa: E402,F401
from hashplugins.datasets import write_fake_bank  # noqa: E402
from bench_utils import cpu_name  # noqa: E402

SHARED = osp.join(REPO, '..', 'shared', 'data',
                  'cifar10', 'CIFAR-10-images.tar.gz')
STAGE1 = 'configs/ganreg/dcgan-s_cifar10-100pc_32px_stage1_cpu.py'
STAGE2 = 'configs/ganreg/ganreg_r18s_cifar10-100pc_32px_{bits}bit_cpu.py'
RESULTS = osp.join(REPO, 'benchmarks', 'results')
METRIC = 'hashing/mAP@all'


def _set(node, key, value):
    """Set ``key`` in every (nested) dict of a config that has it."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                node[k] = value
            else:
                _set(v, key, value)
    elif isinstance(node, list):
        for v in node:
            _set(v, key, value)


def _protocol(per_class, database_per_class=None):
    spec = dict(kind='per_class', num_query_per_class=100,
                num_train_per_class=per_class, database='rest')
    if database_per_class:  # same query/train images, smaller database
        spec['num_database_per_class'] = database_per_class
    return spec


def _quiet(cfg, work_dir, seed):
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=200)


def stage1(per_class, iters, num_fakes, work_root):
    """Train the GAN, save its grid, write the bank; returns the bank."""
    bank = osp.join(work_root, f'bank_{per_class}pc')
    if osp.isdir(bank):
        return bank
    cfg = Config.fromfile(osp.join(REPO, STAGE1))
    _set(cfg.train_dataloader, 'data_root', SHARED)
    _set(cfg.train_dataloader, 'protocol', _protocol(per_class))
    cfg.train_cfg.max_iters = iters
    cfg.default_hooks.checkpoint = None
    _quiet(cfg, osp.join(work_root, f'gan_{per_class}pc'), 0)
    runner = Runner.from_cfg(cfg)
    runner.train()
    grids = sorted(p for p in os.listdir(osp.join(cfg.work_dir, 'samples')))
    last = max(grids, key=lambda p: int(p[5:-4]))
    shutil.copy(osp.join(cfg.work_dir, 'samples', last),
                osp.join(RESULTS, f'ganreg_grid_{per_class}pc.png'))
    model = runner.model
    return write_fake_bank(
        lambda n, y, g: model.sample(n, labels=y, generator=g), bank,
        num_fakes, num_classes=model.num_classes, seed=0)


def stage2(variant, per_class, bits, seed, bank, epochs, work_root,
           database_per_class):
    cfg = Config.fromfile(osp.join(REPO, STAGE2.format(bits=bits)))
    _set(cfg.train_dataloader, 'protocol', _protocol(per_class))
    for key in ('val_dataloader', 'test_dataloader'):
        _set(cfg[key], 'protocol',
             _protocol(per_class, database_per_class))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _set(cfg[key], 'data_root', SHARED)
    cfg.train_dataloader.dataset.fake.data_root = bank
    if variant == 'baseline':  # same hasher, real images only
        cfg.train_dataloader.dataset = cfg.train_dataloader.dataset.real
        cfg.train_dataloader.pop('collate_fn')
        cfg.model.type = 'DeepHasher'
        cfg.model.pop('fake_loss')
    cfg.train_cfg.max_epochs = epochs
    cfg.train_cfg.val_interval = epochs + 1
    cfg.param_scheduler.T_max = epochs
    cfg.default_hooks.checkpoint = None
    name = f'{variant}_{per_class}pc_{bits}bit_seed{seed}'
    _quiet(cfg, osp.join(work_root, name), seed)
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    return dict(variant=variant, per_class=per_class, bits=bits, seed=seed,
                mAP_all=float(metrics[METRIC]), epochs=epochs,
                total_s=round(time.perf_counter() - start, 1),
                load_avg_1min=round(os.getloadavg()[0], 2))


def write(results, args, load_samples=()):
    """Write ganreg.json and ganreg.md; ``load_samples`` are extra 1-min
    load averages sampled during the runs (``--load-log``)."""
    meta = dict(machine=f'{cpu_name()}, '
                f'{os.cpu_count()} CPU cores (shared), torch '
                f'{torch.__version__}, {torch.get_num_threads()} thread(s)',
                data='shared CIFAR-10 copy (lossy JPEG), 32 px; queries '
                '100/class; database '
                + (f'{args.database_per_class}/class of the non-train rest'
                   if args.database_per_class else 'the whole non-train rest'),
                chance='0.10 (10 balanced classes: mAP@all of a random '
                'ranking is the class prior)',
                args={k: v for k, v in vars(args).items()
                      if k not in ('report_only', 'load_log')})
    loads = [r['load_avg_1min'] for r in results
             if 'load_avg_1min' in r] + list(load_samples)
    meta['load_avg_1min_range'] = [min(loads, default=None),
                                   max(loads, default=None)]
    with open(osp.join(RESULTS, 'ganreg.json'), 'w') as f:
        json.dump(dict(meta=meta, runs=results), f, indent=1)
    cli = ' '.join(f'--{k.replace("_", "-")} '
                   + (' '.join(map(str, v)) if isinstance(v, list) else str(v))
                   for k, v in meta['args'].items()
                   if v not in (False, None))
    lines = ['# ganreg benchmark', '',
             f'Generated by `benchmarks/ganreg_benchmark.py {cli}`.', '',
             f"Data: {meta['data']}.", '',
             f"Hardware: {meta['machine']}; runs one after another; 1-min "
             f"load average between {min(loads, default=0):.1f} and "
             f"{max(loads, default=0):.1f} during the runs (other jobs on "
             'the same cores), so times are indicative only.',
             '', f"Chance level: {meta['chance']}.", '',
             'Variants: `ganreg` = triplet loss on real images + max-entropy '
             'loss on the stage-1 GAN\'s fakes (1 fake per real image); '
             '`baseline` = the same backbone, head, triplet loss, schedule '
             'and seed on the real images only. Stage 2 epochs per regime: '
             + ', '.join(f'{pc}/class: {e}' for pc, e in sorted(
                 {(r['per_class'], r['epochs']) for r in results})) + '.',
             '', '| per class | bits | baseline | ganreg | ganreg − baseline '
             '(paired by seed) | seeds | s/run (baseline, ganreg) |',
             '|---|---|---|---|---|---|---|']
    runs = {(r['per_class'], r['bits'], r['variant'], r['seed']): r
            for r in results}

    def mean_std(vals):
        t = torch.tensor(vals, dtype=torch.float64)
        std = t.std().item() if len(vals) > 1 else float('nan')
        return f'{t.mean().item():.4f} ± {std:.4f}'

    for pc, bits in sorted({k[:2] for k in runs}):
        cols, times = {}, {}
        for variant in ('baseline', 'ganreg'):
            sel = [r for k, r in sorted(runs.items())
                   if k[:3] == (pc, bits, variant)]
            cols[variant] = {r['seed']: r['mAP_all'] for r in sel}
            times[variant] = (sum(r['total_s'] for r in sel) / len(sel)
                              if sel else float('nan'))
        paired = sorted(set(cols['baseline']) & set(cols['ganreg']))
        diff = [cols['ganreg'][s] - cols['baseline'][s] for s in paired]
        lines.append(
            f"| {pc} | {bits} | {mean_std(list(cols['baseline'].values()))} "
            f"| {mean_std(list(cols['ganreg'].values()))} | "
            f"{mean_std(diff) if diff else '—'} "
            f"({sum(d > 0 for d in diff)}/{len(diff)} seeds > 0) | "
            f"{len(paired)} | {times['baseline']:.0f}, "
            f"{times['ganreg']:.0f} |")
    with open(osp.join(RESULTS, 'ganreg.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


def _read_load_log(path):
    """1-min load averages from lines 'HH:MM:SS l1 l5 l15'."""
    if not path:
        return []
    with open(path) as f:
        return [float(line.split()[1]) for line in f if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--regimes', type=int, nargs='+', default=[100, 500])
    parser.add_argument('--bits', type=int, nargs='+', default=[12, 32])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--gan-iters', type=int, default=2000)
    parser.add_argument('--num-fakes', type=int, default=5000)
    parser.add_argument('--epochs', type=int, nargs='+', default=[30, 6],
                        help='stage-2 epochs per regime (one value for '
                        'all, or one per --regimes entry)')
    parser.add_argument('--database-per-class', type=int, default=500,
                        help='evaluation database images per class (0: the '
                        'whole rest of CIFAR-10, 58,000 - train)')
    parser.add_argument('--work-dir', default='benchmarks/work/ganreg')
    parser.add_argument('--resume', action='store_true')
    parser.add_argument('--report-only', action='store_true',
                        help='rewrite ganreg.md from ganreg.json (runs and '
                        'their arguments) without training')
    parser.add_argument('--load-log', help="extra load samples (lines "
                        "'HH:MM:SS load1 load5 load15') taken during the runs")
    args = parser.parse_args()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // 2))
    if args.report_only:
        with open(osp.join(RESULTS, 'ganreg.json')) as f:
            saved = json.load(f)
        vars(args).update(saved['meta']['args'])
        write(saved['runs'], args, _read_load_log(args.load_log))
        return
    os.makedirs(RESULTS, exist_ok=True)
    path = osp.join(RESULTS, 'ganreg.json')
    results = []
    if args.resume and osp.exists(path):
        with open(path) as f:
            results = json.load(f)['runs']
    done = {(r['variant'], r['per_class'], r['bits'], r['seed'])
            for r in results}
    if len(args.epochs) not in (1, len(args.regimes)):
        parser.error('--epochs takes one value or one per --regimes entry')
    epochs = dict(zip(args.regimes, args.epochs * len(args.regimes)
                      if len(args.epochs) == 1 else args.epochs))
    for per_class in args.regimes:
        bank = stage1(per_class, args.gan_iters, args.num_fakes,
                      args.work_dir)
        for bits in args.bits:
            for seed in args.seeds:
                for variant in ('baseline', 'ganreg'):
                    if (variant, per_class, bits, seed) in done:
                        continue
                    results.append(stage2(variant, per_class, bits, seed,
                                          bank, epochs[per_class],
                                          args.work_dir,
                                          args.database_per_class))
                    write(results, args, _read_load_log(args.load_log))
                    print(results[-1], flush=True)


if __name__ == '__main__':
    main()
