"""DSH-GANs vs the same CNN without synthetic triplets, few labels, CIFAR-10.

One run, on the shared CIFAR-10 copy (lossy JPEG), through the real
``Runner`` and ``HammingRetrievalMetric``, with the shipped CPU configs
(``configs/dsh_gans/*_r18s_cifar10-500pc_32px_*_cpu.py``): protocol (b),
500 labelled images per class, the other 54,000 database images as the
unlabelled pool.

Per seed (the seed drives initialisation, data order, noise and
augmentation; the split is fixed, split seed 0):

1. GAN pre-training stage of the DSH-GANs config (``pretrain_iters``
   iterations of the semi-supervised AC-GAN), once; its generator and
   discriminator weights start every code length's joint stage (fresh
   optimizers);
2. for each code length: DSH-GANs' joint stage (the config's
   ``max_iters - pretrain_iters`` iterations), and the ablation
   ``real-triplets`` (the same CNN, triplet + classification losses on
   real labelled images only, as many CNN updates on the same labelled
   batch size);
3. evaluation: mAP@all of the 1,000 protocol queries against the first
   ``--database`` images of the protocol's database (59,000 in full; a
   subset to fit the CPU budget, said in the output), with the random-code
   chance level on the same query/database labels.

Generator sample grids (one column per class) of seed 0 are copied to
``benchmarks/results/dsh_gans_samples_*.png``. Results are written after
every run to ``benchmarks/results/dsh_gans.{json,md}`` (``--resume`` skips
finished runs).

Usage::

    nice -n 5 python benchmarks/dsh_gans_benchmark.py [--seeds 0 1 2] \
        [--bits 12 32] [--database 5000] [--resume]
"""
import argparse
import json
import logging
import os
import os.path as osp
import shutil
import sys
import time

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.join(REPO, 'benchmarks'))
import hashplugins  # noqa: E402,F401
from tah_benchmark import _atomic_write, _mean_std, hardware  # noqa: E402

SHARED = os.environ.get('HASHPLUGINS_DATA',
                        osp.join(REPO, '..', 'shared', 'data'))
CIFAR = osp.join(SHARED, 'cifar10', 'CIFAR-10-images.tar.gz')
CONFIGS = {
    'dsh-gans': 'configs/dsh_gans/dsh-gans_r18s_cifar10-500pc_32px_'
    '{bits}bit_cpu.py',
    'real-triplets': 'configs/dsh_gans/real-triplets_r18s_cifar10-500pc_32px_'
    '{bits}bit_cpu.py',
    'real-triplets-one-per-query': 'configs/dsh_gans/real-triplets-one-per-'
    'query_r18s_cifar10-500pc_32px_{bits}bit_cpu.py',
    'dsh-gans-no-adversary': 'configs/dsh_gans/dsh-gans-no-adversary_r18s_'
    'cifar10-500pc_32px_{bits}bit_cpu.py',
    # diagnosis: G's adversary term in the non-saturating form
    'dsh-gans-nonsaturating': 'configs/dsh_gans/dsh-gans-nonsaturating_r18s_'
    'cifar10-500pc_32px_{bits}bit_cpu.py',
}
# Variants with a GAN: their joint stage starts from the seed's pre-trained
# generator and discriminator.
GAN_VARIANTS = ('dsh-gans', 'dsh-gans-no-adversary',
                'dsh-gans-nonsaturating')
CONTROL = 'real-triplets'
# Mean of the last iterations' logged losses, for the diagnosis.
LOSS_WINDOW = 50
RESULTS = osp.join(REPO, 'benchmarks', 'results')
SMOKE = {}  # --smoke: iteration overrides for a quick end-to-end check
METRIC = 'hashing/mAP@all'
DATA = ('CIFAR-10 from a lossy JPEG copy (shared/data/cifar10, PSNR ~30.5 dB '
        'vs the official pixels), protocol (b), split seed 0: 5,000 labelled '
        'training images (500/class), 54,000 unlabelled (database minus the '
        'labelled images), 1,000 queries (100/class)')


def _commit() -> str:
    import subprocess
    try:
        return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                              cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'


def _point_data(cfg, database: int) -> None:
    train = cfg.train_dataloader.dataset
    train.labelled.data_root = CIFAR
    train.unlabelled.data_root = CIFAR
    for key in ('val_dataloader', 'test_dataloader'):
        cfg[key].dataset.query.data_root = CIFAR
        cfg[key].dataset.database.data_root = CIFAR
        cfg[key].dataset.database.indices = database


def _config(variant, bits, seed, work_dir, database):
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[variant].format(bits=bits)))
    _point_data(cfg, database)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=100)
    cfg.default_hooks.checkpoint = None
    cfg.log_level = 'WARNING'
    cfg.train_cfg.val_interval = 10**9  # evaluate once, via runner.test()
    if SMOKE:
        gan = variant in GAN_VARIANTS
        cfg.train_cfg.max_iters = SMOKE['gan' if gan else 'real']
        if gan:
            cfg.model.pretrain_iters = SMOKE['pretrain']
    return cfg


def pretrain_gan(seed, work_root, database) -> dict:
    """GAN stage only; returns the G/D checkpoint path and timing."""
    work_dir = osp.join(work_root, f'gan_seed{seed}')
    cfg = _config('dsh-gans', 12, seed, work_dir, database)
    iters = int(cfg.model.pretrain_iters)
    cfg.train_cfg.max_iters = iters
    cfg.custom_hooks = [dict(type='GANSampleGridHook', interval=iters,
                             num_samples=100)]
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    seconds = time.perf_counter() - start
    state = {k: v.detach().clone()
             for k, v in runner.model.state_dict().items()
             if k.split('.')[0] in ('generator', 'discriminator')}
    ckpt = osp.join(work_root, f'gan_seed{seed}.pth')
    torch.save(dict(state_dict=state, meta=dict(iters=iters)), ckpt)
    grid = osp.join(cfg.work_dir, 'samples', f'iter_{iters}.png')
    return dict(ckpt=ckpt, iters=iters, seconds=round(seconds, 1),
                grid=grid, load=round(os.getloadavg()[0], 2))


def run_one(variant, bits, seed, work_root, database, gan=None) -> dict:
    """Train one variant (DSH-GANs: joint stage from ``gan``) and test."""
    name = f'{variant}_{bits}bit_seed{seed}'
    cfg = _config(variant, bits, seed, osp.join(work_root, name), database)
    iters = int(cfg.train_cfg.max_iters)
    if variant in GAN_VARIANTS:
        iters -= int(cfg.model.pretrain_iters)
        cfg.train_cfg.max_iters = iters
        cfg.model.pretrain_iters = 0
        cfg.load_from = gan['ckpt']
        cfg.custom_hooks = [dict(type='GANSampleGridHook', interval=iters,
                                 num_samples=100)]
    else:
        cfg.custom_hooks = []
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_s = time.perf_counter() - start
    losses = final_losses(runner)
    metrics = runner.test()
    out = dict(variant=variant, bits=bits, seed=seed, iters=iters,
               mAP_all=float(metrics[METRIC]), train_s=round(train_s, 1),
               total_s=round(time.perf_counter() - start, 1),
               load_average_after=round(os.getloadavg()[0], 2),
               final_losses=losses)
    if variant in GAN_VARIANTS:
        out['grid'] = osp.join(cfg.work_dir, 'samples', f'iter_{iters}.png')
        out['adversary_accuracy'] = adversary_accuracy(runner)
    return out


def final_losses(runner) -> dict:
    """Mean of each logged ``loss*`` over the last iterations."""
    out = {}
    for key, history in runner.message_hub.log_scalars.items():
        name = key.split('/', 1)[-1]
        if key.startswith('train/') and name.startswith('loss'):
            out[name] = round(float(history.mean(LOSS_WINDOW)), 4)
    return out


@torch.no_grad()
def adversary_accuracy(runner, num=500) -> dict:
    """Accuracy of the CNN's adversary stream (real iff logit > 0) on
    ``num`` query images and ``num`` fresh fakes of uniform classes: is
    the stream still telling them apart at the end?"""
    model = runner.model
    model.eval()
    dataset = runner.test_dataloader.dataset  # queries come first
    batch = [dataset[i] for i in range(min(num, dataset.num_query))]
    data = model.data_preprocessor(
        dict(inputs=[b['inputs'] for b in batch],
             data_samples=[b['data_samples'] for b in batch]), False)
    _, real_logits, _ = model.hasher(data['inputs'])
    labels = torch.nn.functional.one_hot(
        torch.arange(num) % model.num_classes, model.num_classes).float()
    fakes, _ = model.generate(num, labels)
    _, fake_logits, _ = model.hasher(fakes)
    model.train()
    real = float((real_logits > 0).float().mean())
    fake = float((fake_logits <= 0).float().mean())
    return dict(real=round(real, 3), synthetic=round(fake, 3),
                balanced=round((real + fake) / 2, 3))


def chance_level(bits, database, draws=5) -> float:
    """mAP@all of random ±1 codes on the same query/database labels (mean
    over draws), and the database's class counts."""
    from mmpretrain.registry import DATASETS

    from hashplugins.evaluation.functional import hamming_retrieval_metrics
    cfg = _config('dsh-gans', bits, 0, '/tmp', database)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    labels = {}
    for part in ('query', 'database'):
        sub = getattr(dataset, part)
        labels[part] = np.array([int(sub.get_data_info(i)['gt_label'])
                                 for i in range(len(sub))])
    rng = np.random.RandomState(0)
    values = []
    for _ in range(draws):
        codes = {p: rng.choice([-1., 1.], (len(v), bits))
                 for p, v in labels.items()}
        values.append(hamming_retrieval_metrics(
            codes['query'], codes['database'], labels['query'],
            labels['database'], metrics=('mAP', ), topk=(None, ))['mAP@all'])
    counts = np.bincount(labels['database'], minlength=10).tolist()
    return float(np.mean(values)), counts


def to_markdown(result) -> str:
    lines = [
        '# DSH-GANs vs the same CNN on real triplets only, and without its '
        'adversary stream (CIFAR-10, 500 labels/class)', '',
        f"Data: {result['data']}. Evaluation: {result['evaluation']}.", '',
        f"Machine: {result['hardware']['cpu']}, "
        f"{result['hardware']['logical_cpus']} logical CPUs (shared), torch "
        f"{result['hardware']['torch']}, {result['hardware']['torch_threads']}"
        f" thread(s); load average at start "
        f"{result['hardware']['load_average_at_start']}.", '',
        f"Schedule: {result['schedule']}", '',
        f"Defaults: {result.get('defaults', '')}", '',
        '| bits | chance | ' + ' | '.join(CONFIGS) + ' | seeds |',
        '|---|---|' + '---|' * len(CONFIGS) + '---|']
    for row in result['summary']:
        lines.append(f"| {row['bits']} | {row['chance']:.3f} | " + ' | '.join(
            row[v] for v in CONFIGS) + f" | {row['seeds']} |")
    lines += ['', f'Per-seed differences against {CONTROL} (mean ± std):', '',
              '| bits | ' + ' | '.join(v for v in CONFIGS if v != CONTROL)
              + ' |', '|---|' + '---|' * (len(CONFIGS) - 1)]
    for row in result['summary']:
        lines.append(f"| {row['bits']} | " + ' | '.join(
            row['diff_' + v] for v in CONFIGS if v != CONTROL) + ' |')
    lines += ['', 'mean ± sample std over seeds; a difference is the '
              'variant minus ' + CONTROL + ' in the same seed.', '',
              '| variant | bits | seed | iters | mAP@all | train s | load |',
              '|---|---|---|---|---|---|---|']
    for r in result['runs']:
        lines.append(f"| {r['variant']} | {r['bits']} | {r['seed']} | "
                     f"{r['iters']} | {r['mAP_all']:.4f} | {r['train_s']} | "
                     f"{r['load_average_after']} |")
    diag = [r for r in result['runs'] if r.get('adversary_accuracy')]
    if diag:
        lines += ['', 'Diagnosis of the GAN variants at the end of training: '
                  "the CNN's adversary stream's accuracy on 500 query images "
                  '(real) and 500 fresh fakes (synthetic), and the mean of '
                  f'the last {LOSS_WINDOW} logged values of each loss:', '',
                  '| variant | bits | seed | adv. acc. real / synthetic | '
                  'final losses |', '|---|---|---|---|---|']
        for r in diag:
            acc = r['adversary_accuracy']
            losses = ', '.join(f'{k} {v:.3f}' for k, v in
                               sorted(r.get('final_losses', {}).items()))
            lines.append(f"| {r['variant']} | {r['bits']} | {r['seed']} | "
                         f"{acc['real']:.3f} / {acc['synthetic']:.3f} | "
                         f'{losses} |')
    lines += ['', 'GAN pre-training per seed: ' + ', '.join(
        f"seed {s}: {g['iters']} it, {g['seconds']} s"
        for s, g in sorted(result['gan'].items())), '']
    if result.get('grids'):
        lines += ['Sample grids (one column per class, airplane..truck): ' +
                  ', '.join(f'`{g}`' for g in result['grids']), '']
    return '\n'.join(lines)


def summarize(result) -> None:
    rows = []
    for bits in result['bits']:
        runs = {v: {r['seed']: r['mAP_all'] for r in result['runs']
                    if r['variant'] == v and r['bits'] == bits}
                for v in CONFIGS}
        seeds = sorted(set.intersection(*(set(r) for r in runs.values())))
        row = dict(bits=bits, chance=result['chance'][str(bits)],
                   seeds=seeds)
        for v in CONFIGS:
            vals = list(runs[v].values())
            row[v] = (_fmt(*_mean_std(vals)) if vals else '—')
            diffs = [runs[v][s] - runs[CONTROL][s] for s in seeds]
            row['diff_' + v] = _fmt(*_mean_std(diffs)) if diffs else '—'
        rows.append(row)
    result['summary'] = rows


def _fmt(mean, std):
    return f'{mean:.4f}' if std != std else f'{mean:.4f} ± {std:.4f}'


def record(result) -> None:
    summarize(result)
    os.makedirs(RESULTS, exist_ok=True)
    _atomic_write(osp.join(RESULTS, 'dsh_gans.json'),
                  json.dumps(result, indent=1))
    _atomic_write(osp.join(RESULTS, 'dsh_gans.md'), to_markdown(result))


def _save_grid(src, name, result):
    if src and osp.isfile(src):
        dst = osp.join(RESULTS, name)
        shutil.copyfile(src, dst)
        rel = osp.relpath(dst, REPO)
        if rel not in result['grids']:
            result['grids'].append(rel)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--bits', type=int, nargs='+', default=[12, 32])
    parser.add_argument('--database', type=int, default=5000)
    parser.add_argument('--work-dir',
                        default=osp.join(REPO, 'benchmarks', 'work',
                                         'dsh_gans'))
    parser.add_argument('--resume', action='store_true')
    parser.add_argument('--smoke', action='store_true',
                        help='a few iterations, results under the work dir')
    args = parser.parse_args(argv)
    global RESULTS
    if args.smoke:
        SMOKE.update({'pretrain': 4, 'gan': 8, 'real': 4})
        RESULTS = osp.join(args.work_dir, 'smoke_results')
    torch.set_num_threads(1)
    MMLogger.get_instance('mmengine').setLevel(logging.WARNING)
    os.makedirs(args.work_dir, exist_ok=True)
    path = osp.join(RESULTS, 'dsh_gans.json')
    if args.resume and osp.isfile(path):
        with open(path) as f:
            result = json.load(f)
    else:
        result = dict(runs=[], gan={}, chance={}, grids=[])
    result.update(
        data=DATA, bits=args.bits, seeds=args.seeds,
        hardware=hardware(),
        evaluation=(f'mAP@all (HammingRetrievalMetric, ties by database '
                    f'index) of the 1,000 queries against the first '
                    f'{args.database:,} images of the 59,000-image database '
                    '(split-file order; a subset for the CPU budget)'),
        schedule=('batches of 16 labelled + 16 unlabelled images; '
                  'GAN variants: 600 GAN pre-training iterations per seed '
                  '(shared by the code lengths and variants), then 400 joint '
                  'iterations (a CNN step each, a G step every 2nd; the '
                  "CNN's adversary stream is the joint stage's "
                  'discriminator); real-triplet controls: 400 CNN '
                  'iterations on the same labelled batch size (all valid '
                  'triplets of the batch, or one sampled real triplet per '
                  'query: the triplet count of DSH-GANs); the same CNN '
                  '(ResNet_CIFAR-18 w16 from scratch), Adam 1e-3'),
        defaults=('commit ' + _commit() + ': CNN l_triplet + l_a + l_c, G '
                  'l_triplet - l_a + l_c (unit weights, adversary and '
                  "classification terms the mean over a triplet's 3 "
                  'images), no separate D in the joint stage, BatchNorm '
                  'statistics untouched by the G step'))
    for bits in args.bits:
        if str(bits) not in result['chance']:
            chance, counts = chance_level(bits, args.database)
            result['chance'][str(bits)] = chance
            result['database_class_counts'] = counts
    record(result)
    done = {(r['variant'], r['bits'], r['seed']) for r in result['runs']}
    for seed in args.seeds:
        gan = result['gan'].get(str(seed))
        if gan is None or not osp.isfile(gan['ckpt']):
            gan = pretrain_gan(seed, args.work_dir, args.database)
            result['gan'][str(seed)] = gan
            if seed == args.seeds[0]:
                _save_grid(gan['grid'], 'dsh_gans_samples_pretrain.png',
                           result)
            record(result)
        for bits in args.bits:
            for variant in CONFIGS:
                if (variant, bits, seed) in done:
                    continue
                run = run_one(variant, bits, seed, args.work_dir,
                              args.database, gan)
                print(json.dumps(run), flush=True)
                result['runs'].append(run)
                if variant == 'dsh-gans' and seed == args.seeds[0]:
                    _save_grid(run.get('grid'),
                               f'dsh_gans_samples_joint_{bits}bit.png',
                               result)
                record(result)
    return 0


if __name__ == '__main__':
    sys.exit(main())
