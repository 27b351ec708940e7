"""TAH vs TAH-A vs TAH-t on CPU-sized transfer tasks (paper Table 3 shape).

The paper (Cao et al., AAAI 2018, Table 3) reports on VisDA-2017 that TAH
beats TAH-A (no adversarial module, no target data) and TAH-t (DHN's
inner-product pairwise loss instead of the t-distribution loss). VisDA and
ImageNet weights are not available here, so this runs the same three
variants, through the real ``Runner`` and the real ``HammingRetrievalMetric``,
on the shipped CPU configs:

* ``mnist2usps``: LeNet-5 from scratch, MNIST (labelled) -> USPS;
* ``pacs_photo2cartoon``: small ResNet-18 from scratch at 64 px, PACS
  photo (labelled) -> cartoon;

at two code lengths and several seeds (the seed drives initialisation,
data order, augmentation and dropout; the query/database/training split is
fixed, split seed 0). Each run trains the config's iteration budget, then
evaluates the target queries against the target database: MAP@H<=2 (TAH's
headline, an empty Hamming ball scores 0) and mAP@all. Results are written
after every run (``--resume`` skips finished runs) to
``benchmarks/results/tah.{json,md}`` as mean +- sample standard deviation
(ddof=1) over seeds, with the machine and data named.

Usage::

    python benchmarks/tah_benchmark.py [--seeds 0 1 2] [--bits 16 32] \
        [--tasks mnist2usps pacs_photo2cartoon] [--resume]
"""
import argparse
import json
import logging
import os
import os.path as osp
import platform
import statistics
import sys
import tempfile
import time

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
import hashplugins  # noqa: E402,F401
from bench_utils import cpu_name  # noqa: E402

SHARED = os.environ.get('HASHPLUGINS_DATA',
                        osp.join(REPO, '..', 'shared', 'data'))

# task -> (config name pattern, {config data_root: path under shared data},
#          data description)
TASKS = {
    'mnist2usps': dict(
        config='configs/tah/{variant}_lenet5_mnist2usps_{bits}bit.py',
        roots={'data/mnist': 'mnist', 'data/usps': 'usps'},
        data='MNIST train split (5,000, labelled) -> USPS (5,000 unlabelled '
        'training images; 1,000 queries vs 8,298 database), 32x32 gray'),
    'pacs_photo2cartoon': dict(
        config='configs/tah/{variant}_resnet18w16_pacs-photo2cartoon_'
        '{bits}bit.py',
        roots={'data/pacs': 'pacs/pacs_128.tar.gz'},
        data='PACS photo (all 1,670, labelled) -> cartoon (700 unlabelled '
        'training images; 140 queries vs 2,204 database), 128 px JPEGs '
        'resized to 72, 64 px crops'),
}
VARIANTS = ('tah', 'tah-released', 'tah-a', 'tah-t')
METRICS = ('hashing/MAP@H<=2', 'hashing/mAP@all')


def _replace_roots(node, roots):
    """Point every ``data_root`` of a config at the shared data."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == 'data_root' and value in roots:
                node[key] = roots[value]
            else:
                _replace_roots(value, roots)
    elif isinstance(node, list):
        for value in node:
            _replace_roots(value, roots)


def run_one(task: str, variant: str, bits: int, seed: int,
            work_root: str, config: str = None, probe: bool = False) -> dict:
    """Train and evaluate one config; return its metrics and timing.

    ``config`` (a path pattern relative to the repository with ``{bits}``)
    replaces the task's TAH config pattern (used by other methods'
    benchmarks on the same tasks). ``probe`` adds the
    :func:`alignment_probe` numbers.
    """
    spec = TASKS[task]
    pattern = config or spec['config']
    path = osp.join(REPO, pattern.format(variant=variant, bits=bits))
    cfg = Config.fromfile(path)
    roots = {k: osp.join(SHARED, v) for k, v in spec['roots'].items()}
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        _replace_roots(cfg[key], roots)
    name = f'{task}_{variant}_{bits}bit_seed{seed}'
    cfg.work_dir = osp.join(work_root, name)
    cfg.randomness = dict(seed=seed, deterministic=False)
    # Evaluate once, after training, through runner.test() (same dataset
    # and metric as val); no checkpoints are needed for the benchmark.
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    cfg.default_hooks.checkpoint = None
    cfg.custom_hooks = [
        h for h in cfg.custom_hooks
        if h['type'] != 'WeightsOnlyCheckpointHook'
    ]
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=100)
    cfg.log_level = 'WARNING'
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_s = time.perf_counter() - start
    metrics = runner.test()
    total_s = time.perf_counter() - start
    missing = [m for m in METRICS if m not in metrics]
    if missing:
        raise KeyError(f'{name}: metric(s) {missing} not reported; got '
                       f'{sorted(metrics)}')
    alignment = alignment_probe(runner.model, task, seed) if probe else {}
    return dict(
        task=task, variant=variant, bits=bits, seed=seed,
        config=osp.relpath(path, REPO),
        max_iters=int(cfg.train_cfg.max_iters),
        **{m.split('/')[-1]: float(metrics[m]) for m in METRICS},
        **alignment,
        train_s=round(train_s, 1), total_s=round(total_s, 1),
        load_average_after=round(os.getloadavg()[0], 2))


#: Images per domain the alignment probe encodes (fewer if a domain's
#: training set is smaller).
PROBE_IMAGES = 1000
_PROBE_DATA = {}


def _probe_datasets(task: str):
    """The task's source and target training sets (the TAH config's
    TransferPairDataset parts, training pipeline), built once per task:
    the same images for every variant, TAH-A included."""
    if task not in _PROBE_DATA:
        from mmpretrain.registry import DATASETS
        spec = TASKS[task]
        cfg = Config.fromfile(
            osp.join(REPO, spec['config'].format(variant='tah', bits=16)))
        roots = {k: osp.join(SHARED, v) for k, v in spec['roots'].items()}
        _replace_roots(cfg.train_dataloader, roots)
        pair = DATASETS.build(cfg.train_dataloader.dataset)
        _PROBE_DATA[task] = (pair.source, pair.target)
    return _PROBE_DATA[task]


@torch.no_grad()
def _encode(model, dataset, indices, batch: int = 100) -> torch.Tensor:
    """Continuous codes (the hash head's output, what the discriminator
    sees) of ``dataset[indices]``, model in eval mode."""
    from mmengine.dataset import pseudo_collate
    codes = []
    for i in range(0, len(indices), batch):
        data = pseudo_collate([dataset[int(j)] for j in indices[i:i + batch]])
        data = model.data_preprocessor(data, False)
        codes.append(model.head(model.extract_feat(data['inputs'])))
    return torch.cat(codes).float()


def _fresh_domain_accuracy(codes: torch.Tensor, domains: torch.Tensor,
                           seed: int, steps: int = 300) -> float:
    """Held-out accuracy of a new domain classifier (b-256-1 MLP, Adam,
    full batch) trained on half of the frozen codes: 0.5 means the
    domains cannot be told apart from the codes."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(codes), generator=gen)
    train, test = order[:len(order) // 2], order[len(order) // 2:]
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(codes.shape[1], 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 1))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, y = codes[train], domains[train].float()
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(
            net(x).squeeze(1), y).backward()
        opt.step()
    with torch.no_grad():
        pred = net(codes[test]).squeeze(1) > 0
    return float((pred == domains[test].bool()).float().mean())


def alignment_probe(model, task: str, seed: int) -> dict:
    """Does adversarial alignment happen? On equal numbers of source and
    target training images: the trained discriminator's domain accuracy
    (where the model has one) and a fresh classifier's held-out accuracy
    on the frozen continuous and binary codes (0.5: indistinguishable)."""
    import numpy as np
    source, target = _probe_datasets(task)
    num = min(PROBE_IMAGES, len(source), len(target))
    rng = np.random.RandomState(1000 + seed)
    was_training = model.training
    model.eval()
    try:
        codes = torch.cat([
            _encode(model, source, rng.permutation(len(source))[:num]),
            _encode(model, target, rng.permutation(len(target))[:num])])
        domains = torch.cat([torch.zeros(num), torch.ones(num)]).long()
        out = dict(probe_images_per_domain=num)
        heads = getattr(model, 'transfer_heads', None) or {}
        if 'domain' in heads:
            with torch.no_grad():
                pred = heads['domain'](codes) > 0
            out['disc_acc'] = float((pred == domains.bool()).float().mean())
        else:
            out['disc_acc'] = None
        out['fresh_acc_codes'] = _fresh_domain_accuracy(codes, domains, seed)
        out['fresh_acc_bits'] = _fresh_domain_accuracy(
            torch.where(codes >= 0, 1., -1.), domains, seed)
    finally:
        model.train(was_training)
    return out


def chance_level(task: str, bits: int, draws: int = 5) -> dict:
    """MAP@H<=2 and mAP@all of random codes on the task's target queries
    and database (same metric functions, mean over seeded draws): the
    level a model that learned nothing would reach."""
    import numpy as np
    from mmpretrain.registry import DATASETS
    from hashplugins.evaluation.functional import hamming_retrieval_metrics
    spec = TASKS[task]
    cfg = Config.fromfile(
        osp.join(REPO, spec['config'].format(variant='tah', bits=bits)))
    roots = {k: osp.join(SHARED, v) for k, v in spec['roots'].items()}
    _replace_roots(cfg.test_dataloader, roots)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    labels = {}
    for part in ('query', 'database'):
        sub = getattr(dataset, part)
        labels[part] = np.array(
            [int(sub.get_data_info(i)['gt_label']) for i in range(len(sub))])
    values = {m.split('/')[-1]: [] for m in METRICS}
    rng = np.random.RandomState(0)
    for _ in range(draws):
        codes = {p: rng.choice([-1., 1.], (len(v), bits))
                 for p, v in labels.items()}
        out = hamming_retrieval_metrics(
            codes['query'], codes['database'], labels['query'],
            labels['database'], metrics=('MAP@H', 'mAP'), radius=2,
            topk=(None, ))
        for key in values:
            values[key].append(out[key])
    return {k: float(np.mean(v)) for k, v in values.items()}


def hardware() -> dict:
    return dict(
        cpu=cpu_name(),
        logical_cpus=os.cpu_count(),
        torch_threads=torch.get_num_threads(),
        load_average_at_start=[round(x, 2) for x in os.getloadavg()],
        torch=torch.__version__,
        python=platform.python_version())


def _mean_std(values):
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else float('nan')
    return mean, std


def summarize(runs):
    """Group runs by (task, bits, variant): mean, std, n per metric."""
    groups = {}
    for r in runs:
        groups.setdefault((r['task'], r['bits'], r['variant']), []).append(r)
    rows = []
    for (task, bits, variant), rs in sorted(groups.items()):
        row = dict(task=task, bits=bits, variant=variant, n=len(rs),
                   seeds=sorted(r['seed'] for r in rs),
                   train_s_mean=round(statistics.fmean(
                       r['train_s'] for r in rs), 1))
        for m in METRICS:
            key = m.split('/')[-1]
            row[key + '_mean'], row[key + '_std'] = _mean_std(
                [r[key] for r in rs])
        for key in PROBE_KEYS:
            values = [r[key] for r in rs if r.get(key) is not None]
            if values:
                row[key + '_mean'], row[key + '_std'] = _mean_std(values)
        rows.append(row)
    return rows


#: The alignment probe's numbers (runs without them are older runs).
PROBE_KEYS = ('disc_acc', 'fresh_acc_codes', 'fresh_acc_bits')


def comparisons(rows, reference: str = 'tah',
                others=('tah-released', 'tah-a', 'tah-t')):
    """Per task and code length: is ``reference``'s mean above each of
    ``others``'? Keys ``<reference>_minus_other``, ``<reference>_higher``.
    """
    index = {(r['task'], r['bits'], r['variant']): r for r in rows}
    out = []
    for (task, bits, variant), r in sorted(index.items()):
        if variant != reference:
            continue
        for other in others:
            o = index.get((task, bits, other))
            if o is None:
                continue
            for m in METRICS:
                key = m.split('/')[-1]
                diff = r[key + '_mean'] - o[key + '_mean']
                spread = (r[key + '_std'] + o[key + '_std'])
                beyond = 'n/a (one seed)' if spread != spread else (
                    'yes' if abs(diff) > spread else 'no')
                out.append({
                    'task': task, 'bits': bits, 'versus': other,
                    'metric': key, f'{reference}_minus_other': diff,
                    f'{reference}_higher': diff > 0,
                    'beyond_one_std_sum': beyond})
    return out


def _atomic_write(path: str, text: str) -> None:
    folder = osp.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix='.tmp-')
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def _fmt(mean, std):
    if std != std:  # one seed: no spread
        return f'{mean:.3f}'
    return f'{mean:.3f} ± {std:.3f}'


def results_lines(result) -> list:
    """Markdown lines: the per-variant summary table and the random-code
    chance table."""
    lines = [
        '| task | bits | variant | seeds | MAP@H<=2 | mAP@all | '
        'train s/run | config |',
        '|---|---|---|---|---|---|---|---|',
    ]
    configs = {(r['task'], r['bits'], r['variant']): r['config']
               for r in result['runs']}
    for r in result['summary']:
        lines.append(
            f"| {r['task']} | {r['bits']} | {r['variant']} | {r['n']} | "
            f"{_fmt(r['MAP@H<=2_mean'], r['MAP@H<=2_std'])} | "
            f"{_fmt(r['mAP@all_mean'], r['mAP@all_std'])} | "
            f"{r['train_s_mean']} | "
            f"`{configs[(r['task'], r['bits'], r['variant'])]}` |")
    probed = [r for r in result['summary'] if 'fresh_acc_codes_mean' in r]
    if probed:
        lines += [
            '', 'Alignment probe (after training, on '
            f'{PROBE_IMAGES:,} source + {PROBE_IMAGES:,} target training '
            'images, fewer where a domain has fewer): domain accuracy of the '
            "trained discriminator, and held-out accuracy of a fresh b-256-1 "
            'classifier trained on half of the frozen continuous codes / of '
            'their signs. 0.5 = the domains cannot be told apart; TAH-A and '
            'TAH-t rows show how separable the domains are without (TAH-A) '
            'or with a different pairwise loss.', '',
            '| task | bits | variant | discriminator acc. | fresh, codes | '
            'fresh, bits |', '|---|---|---|---|---|---|']
        for r in probed:
            disc = (_fmt(r['disc_acc_mean'], r['disc_acc_std'])
                    if 'disc_acc_mean' in r else 'no discriminator')
            lines.append(
                f"| {r['task']} | {r['bits']} | {r['variant']} | {disc} | "
                f"{_fmt(r['fresh_acc_codes_mean'], r['fresh_acc_codes_std'])}"
                f" | {_fmt(r['fresh_acc_bits_mean'], r['fresh_acc_bits_std'])}"
                ' |')
    chance = result.get('chance', {})
    if chance:
        lines += ['', 'Random ±1 codes on the same queries and database '
                  '(mean of 5 seeded draws; what a model that learned '
                  'nothing scores):', '',
                  '| task | bits | MAP@H<=2 | mAP@all |', '|---|---|---|---|']
        for key, c in sorted(chance.items()):
            task, bits = key.rsplit('_', 1)
            lines.append(f"| {task} | {bits} | {c['MAP@H<=2']:.3f} | "
                         f"{c['mAP@all']:.3f} |")
    return lines


def comparison_lines(comparisons_, reference: str, label: str) -> list:
    """Markdown table of :func:`comparisons` output (``label`` names the
    reference variant in the header)."""
    lines = [f'| task | bits | vs | metric | {label} − other | {label} '
             f'higher | |diff| > std_{label} + std_other |',
             '|---|---|---|---|---|---|---|']
    for c in comparisons_:
        lines.append(
            f"| {c['task']} | {c['bits']} | {c['versus']} | {c['metric']} "
            f"| {c[reference + '_minus_other']:+.3f} | "
            f"{'yes' if c[reference + '_higher'] else 'no'} | "
            f"{c['beyond_one_std_sum']} |")
    return lines


def to_markdown(result) -> str:
    hw = result['hardware']
    lines = [
        '# TAH vs TAH-released vs TAH-A vs TAH-t (CPU transfer tasks)', '',
        f"Generated by `benchmarks/tah_benchmark.py` on {result['date']}.",
        '',
        f"Hardware: {hw['cpu']}, {hw['logical_cpus']} logical CPUs "
        f"(shared with other jobs; load average at start "
        f"{hw['load_average_at_start']}"
        + (f"; {hw['load_note']}" if 'load_note' in hw else '') +
        f"), torch {hw['torch']} with {hw['torch_threads']} thread(s), runs "
        'one after another; times are wall times under that load.', '',
        'Data:'
    ]
    for task in result['tasks']:
        lines.append(f"- `{task}`: {TASKS[task]['data']}.")
    lines += [
        '',
        'Metrics on the target domain: MAP@H<=2 (TAH Table 2/3 metric; a '
        'query with an empty radius-2 ball scores 0) and mAP@all, both '
        'from `HammingRetrievalMetric` (ties by database order). '
        f"Mean ± sample std (ddof=1) over the seeds run of {result['seeds']} "
        '(column "seeds"); the '
        'seed drives initialisation, data order, augmentation and dropout; '
        'the split is fixed (split seed 0).', '',
        'Variants (paper Table 3): TAH = t-distribution pairwise + '
        'quantization + domain adversary, reversal coefficient ramped as '
        'the paper says; TAH-released = the same with the released '
        "code's constant coefficient 1; TAH-A = no adversary and no "
        'target data; TAH-t = DHN inner-product pairwise loss instead of '
        'the t-distribution loss. Transfer batches drop the last partial '
        'batch of each pass.', '',
    ]
    lines += results_lines(result)
    lines += ['', '## Does TAH beat both ablations? (paper: yes)', '']
    lines += comparison_lines(result['comparisons'], 'tah', 'TAH')
    lines += ['', f"Total wall time: {result['total_wall_s'] / 60:.1f} min "
              f"for {len(result['runs'])} runs.", '']
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--tasks', nargs='+', default=list(TASKS),
                        choices=list(TASKS))
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS),
                        choices=list(VARIANTS))
    parser.add_argument('--bits', nargs='+', type=int, default=[16, 32])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', default=osp.join(REPO, 'benchmarks',
                                                   'results', 'tah'))
    parser.add_argument('--work-dir', default=osp.join(
        REPO, 'benchmarks', 'work', 'tah'))
    parser.add_argument('--resume', action='store_true',
                        help='keep finished runs from <out>.json')
    args = parser.parse_args(argv)
    if not osp.isdir(SHARED):
        raise FileNotFoundError(f'shared data {SHARED} not found; set '
                                'HASHPLUGINS_DATA')
    torch.set_num_threads(args.threads)
    os.environ.setdefault('HASHPLUGINS_CACHE', osp.join(REPO, '.cache'))
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)

    runs, elapsed = [], 0.
    if args.resume and osp.exists(args.out + '.json'):
        with open(args.out + '.json') as f:
            previous = json.load(f)
        runs, elapsed = previous['runs'], previous['total_wall_s']
    done = {(r['task'], r['variant'], r['bits'], r['seed']) for r in runs}
    result = dict(
        date=time.strftime('%Y-%m-%d %H:%M'), hardware=hardware(),
        tasks=args.tasks, variants=args.variants, bits=args.bits,
        seeds=args.seeds)
    if runs:  # resuming: the machine and date of the first runs stay
        result.update(date=previous['date'], hardware=previous['hardware'])
    start = time.perf_counter()
    todo = [(t, v, b, s) for t in args.tasks for b in args.bits
            for s in args.seeds for v in args.variants
            if (t, v, b, s) not in done]

    chance = {f'{t}_{b}': chance_level(t, b) for t in args.tasks
              for b in args.bits}
    result['chance'] = chance

    def record():
        wanted = [r for r in runs if r['task'] in args.tasks
                  and r['variant'] in args.variants and r['bits'] in
                  args.bits and r['seed'] in args.seeds]
        result.update(
            runs=wanted, summary=summarize(wanted),
            total_wall_s=elapsed + time.perf_counter() - start)
        result['comparisons'] = comparisons(result['summary'])
        _atomic_write(args.out + '.json', json.dumps(result, indent=1))
        _atomic_write(args.out + '.md', to_markdown(result))

    # Seeds outermost: a partial result holds complete seeds first.
    todo.sort(key=lambda k: (k[3], k[0], k[2], VARIANTS.index(k[1])))
    for i, (task, variant, bits, seed) in enumerate(todo, 1):
        run = run_one(task, variant, bits, seed, args.work_dir, probe=True)
        runs.append(run)
        print(f'[{i}/{len(todo)}] {task} {variant} {bits} bits seed {seed}: '
              f"MAP@H<=2 {run['MAP@H<=2']:.4f} mAP@all "
              f"{run['mAP@all']:.4f} ({run['total_s']} s)", flush=True)
        record()
    if not runs:
        print('nothing to run')
        return 0
    if not todo:
        record()
    print(to_markdown(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
