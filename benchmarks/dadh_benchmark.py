"""DADH benchmark: retrieval quality against its single-stream ablation, and
the cost of the discrete code update (B-step) at N = 200,000.

1. Quality: ``configs/dadh/dadh_lenet5_mnist_16bit.py`` (two LeNet-5
   streams, MNIST from the shared data, protocol 'a': 1,000 queries, 5,000
   training images, 64,000 database images) against the same config with
   ``stream_g=None`` (one stream; the cross-stream term then pairs the
   stream with its own buffered outputs), same backbone, epochs, batch and
   optimizer. Each run is the real ``Runner`` (train, then the val loop
   with ``HammingRetrievalMetric``) in its own process, one thread each;
   mAP@all over the whole database, mean ± sample std over seeds.
   ``--learned-b``: the same variants on protocol 'b' (the 5,000 training
   images are also database items, 69,000 in all), where the learned
   training codes B can serve as those items' database codes (ADSH-style,
   ``learned_database_codes``): each code source with and without B.
2. Speed/memory: ``DualAsymmetricHasher.update_codes`` for N = 200,000,
   k = 64 with random stream outputs, single-label (10 classes) and
   multi-label (21 classes) synthetic labels, each in a fresh process:
   seconds for building the objective and per DCC sweep, the closed form,
   and the peak RSS increase; compared with one training epoch at that N,
   estimated from the measured per-image throughput of the same model's
   ``train_step`` (LeNet-5 streams, N = 200,000 buffers, batch 64, random
   images; data loading excluded, so the epoch estimate is a lower bound
   and the B-step share an upper bound).

Writes ``benchmarks/results/dadh.{json,md}``.

Usage:
    python benchmarks/dadh_benchmark.py [--seeds 0 1 2] [--bits 16 32]
        [--epochs 10] [--jobs 2] [--skip-quality] [--skip-speed]
        [--learned-b] [--keep-existing]
"""
import argparse
import json
import os
import os.path as osp
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from bench_utils import cpu_name

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIG = osp.join(REPO, 'configs', 'dadh', 'dadh_lenet5_mnist_16bit.py')
VALIDATION_CONFIG = osp.join(REPO, 'configs', 'dadh',
                             'dadh_lenet5_mnist-val_16bit.py')
SHARED = os.environ.get('HASHPLUGINS_DATA',
                        osp.join(REPO, '..', 'shared', 'data'))
RESULTS = osp.join(REPO, 'benchmarks', 'results')
# dadh: both streams on every batch (2 network passes per batch);
# single_stream: one stream, the same epochs (half the passes);
# single_stream_2x: one stream, twice the epochs (DADH's passes).
VARIANTS = ('dadh', 'single_stream', 'single_stream_2x')
def _pilot(eta: float, init: str, gap: str, bstep: str) -> dict:
    """Overrides setting DADH's four disputed knobs explicitly (so a pilot
    means the same whatever the shipped defaults are): balance weight eta,
    initial B, the gap on tanh(F) or raw F, B-step after every batch
    ('iter') or every epoch ('epoch')."""
    return dict(
        model=dict(
            balance_loss=dict(type='BitBalanceLoss', loss_weight=eta)
            if eta else None,
            code_init=init,
            tanh_in_gap=gap == 'tanh'),
        code_hook=dict(by_epoch=bstep == 'epoch', interval=1))


#: Knob pilots, run on the validation config (500 held-out training
#: images retrieve from the other 4,500): name -> the knobs it sets.
#: eta10_zeros_tanh_iter was the default of commit 23991dc (it collapsed);
#: eta1_random_raw_epoch is the earlier joint variant (~0.94 on the test
#: queries in an older benchmark).
PILOTS = {
    f'eta{eta:g}_{init}_{gap}_{bstep}': _pilot(eta, init, gap, bstep)
    for eta, init, gap, bstep in [
        (10, 'zeros', 'tanh', 'iter'),
        (1, 'zeros', 'tanh', 'iter'),
        (0, 'zeros', 'tanh', 'iter'),
        (10, 'zeros', 'tanh', 'epoch'),
        (10, 'random', 'tanh', 'iter'),
        (10, 'zeros', 'raw', 'iter'),
        (1, 'random', 'raw', 'epoch'),
        (1, 'zeros', 'tanh', 'epoch'),
        (1, 'random', 'tanh', 'epoch'),
        (1, 'random', 'tanh', 'iter'),
        (1, 'zeros', 'raw', 'iter'),
    ]
}

#: Iterations between the logged gradient shares of DADH's terms.
GRAD_SHARE_INTERVAL = 10


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.


def _setup_child():
    import torch
    torch.set_num_threads(1)
    sys.path.insert(0, REPO)
    import hashplugins  # noqa: F401
    return torch


# ----------------------------------------------------------------------------
# 1. quality (one Runner per process)
def _encode_eval_set(model, loader):
    """Every stream's pre-activation outputs, labels, split and pool index
    of the query + database set, one pass over the loader."""
    import torch
    outputs, labels, splits = {n: [] for n in model.streams}, [], []
    pool_index = []
    model.eval()
    with torch.no_grad():
        for data in loader:
            data = model.data_preprocessor(data, False)
            for name, value in model._network_outputs(data['inputs'],
                                                      ('sum', )).items():
                outputs[name].append(value)
            for sample in data['data_samples']:
                labels.append(int(sample.gt_label[0]))
                splits.append(sample.metainfo['split'])
                pool_index.append(int(sample.metainfo.get('pool_index', -1)))
    return ({n: torch.cat(v) for n, v in outputs.items()},
            torch.tensor(labels), splits, torch.tensor(pool_index))


def code_map(outputs, labels, splits, source: str,
             learned=None) -> float:
    """mAP@all (stable ties, the configs' metric) with query and database
    codes sign(F), sign(G) or sign(F + G); with ``learned = (found, rows)``
    (database items that are training items, their row of B) those items
    take ``bank_codes[rows]`` (B-as-database)."""
    import numpy as np
    import torch
    from hashplugins.evaluation.functional import hamming_retrieval_metrics
    value = sum(outputs.values()) if source == 'sum' else outputs[source]
    codes = torch.where(value >= 0, 1., -1.)
    if learned is not None:
        found, learned_codes = learned
        codes = torch.where(found[:, None], learned_codes, codes)
    codes = codes.numpy()
    query = np.array([s == 'query' for s in splits])
    out = hamming_retrieval_metrics(
        codes[query], codes[~query], labels.numpy()[query],
        labels.numpy()[~query], metrics=('mAP', ), topk=None)
    return float(out['mAP@all'])


def quality_run(variant: str, bits: int, seed: int, epochs: int,
                knobs: Optional[dict] = None, protocol: str = 'a') -> dict:
    """Train and evaluate one configuration; returns mAP (per code source
    for DADH), the logged gradient shares and timings.

    With ``protocol='b'`` the training images are database items too; the
    model keeps their ids (``learned_database_codes``) and each code source
    is also scored with B as those items' database codes (``'<source>+B'``).

    With ``knobs`` (a pilot run: ``model`` and ``code_hook`` entries merged
    into the config's model and DADHCodeUpdateHook) the validation config
    is used: held-out training images retrieve from the training images
    the model is trained on; the protocol's queries are never touched.
    """
    _setup_child()
    from mmengine.config import Config
    from mmengine.runner import Runner

    cfg = Config.fromfile(CONFIG if knobs is None else VALIDATION_CONFIG)
    root = osp.join(SHARED, 'mnist')
    cfg.train_dataloader.dataset.data_root = root
    for part in ('query', 'database'):
        cfg.val_dataloader.dataset[part].data_root = root
    if protocol != 'a':
        cfg.train_dataloader.dataset.protocol = protocol
        for part in ('query', 'database'):
            cfg.val_dataloader.dataset[part].protocol = protocol
        cfg.model.learned_database_codes = True
        pack = cfg.val_dataloader.dataset.pipeline[-1]
        assert pack['type'] == 'PackHashInputs', pack
        from hashplugins.datasets.transforms.pack import PackHashInputs
        pack['meta_keys'] = PackHashInputs.DEFAULT_META_KEYS + (
            'pool_index', )
    cfg.test_dataloader = cfg.val_dataloader
    if knobs is not None:
        cfg.model.update(knobs.get('model', {}))
        hook = next(h for h in cfg.custom_hooks
                    if h['type'] == 'DADHCodeUpdateHook')
        hook.update(knobs.get('code_hook', {}))
    for name in ('stream_f', 'stream_g'):
        cfg.model[name].head.num_bits = bits
    if variant.startswith('single_stream'):
        cfg.model.stream_g = None
        cfg.optim_wrapper.pop('stream_g')
    else:
        cfg.model.grad_share_interval = GRAD_SHARE_INTERVAL
    if variant == 'single_stream_2x':
        epochs *= 2
    cfg.randomness = dict(seed=seed, deterministic=False)
    cfg.train_cfg.max_epochs = epochs
    cfg.param_scheduler.T_max = epochs
    cfg.train_cfg.val_interval = epochs + 1  # evaluate once, below
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1,
                                        save_last=False)
    cfg.log_level = 'WARNING'
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        cfg.experiment_name = f'{variant}_{bits}_{seed}'
        runner = Runner.from_cfg(cfg)
        start = time.perf_counter()
        runner.train()
        train_s = time.perf_counter() - start
        shares = {
            key[len('train/'):]: float(buffer.mean())
            for key, buffer in runner.message_hub.log_scalars.items()
            if key.startswith('train/grad_share_')
        }
        start = time.perf_counter()
        model = runner.model
        import torch
        outputs, labels, splits, pool_index = _encode_eval_set(
            model, runner.val_dataloader)
        sources = ('f', 'g', 'sum') if model.stream_g is not None else ('f', )
        maps = {source: code_map(outputs, labels, splits, source)
                for source in sources}
        learned_rows = 0
        if protocol != 'a':
            is_db = torch.tensor([s == 'database' for s in splits])
            found, rows = model.code_bank.rows_of_ids(
                torch.where(is_db, pool_index, -1))
            learned = (found, model.code_bank.codes[rows].float())
            learned_rows = int(found.sum())
            assert learned_rows == model.code_bank.num_train, learned_rows
            for source in sources:
                maps[source + '+B'] = code_map(outputs, labels, splits,
                                               source, learned)
        eval_s = time.perf_counter() - start
        bank = model.code_bank
        codes = dict(distinct_B=int(torch.unique(bank.codes, dim=0).shape[0]),
                     B_bit_mean_abs=float(bank.codes.mean(0).abs().mean()))
    return dict(variant=variant, bits=bits, seed=seed, epochs=epochs,
                knobs=knobs, protocol=protocol, learned_rows=learned_rows,
                num_eval=len(splits), mAP=maps['f'], mAP_by_code=maps,
                grad_shares=shares, train_s=train_s, eval_s=eval_s, **codes)


# ----------------------------------------------------------------------------
# 2. B-step speed and memory (one case per process)
def _synthetic_labels(torch, n: int, multi: bool, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    if not multi:
        return torch.nn.functional.one_hot(
            torch.randint(10, (n, ), generator=g), 10).float()
    # NUS-WIDE-like: 1-3 concepts per item from a skewed distribution over
    # 21 concepts, so label sets repeat as in real multi-label data.
    popularity = 1. / torch.arange(1, 22).float()
    counts = torch.randint(1, 4, (n, ), generator=g)
    labels = torch.zeros(n, 21)
    for c in (1, 2, 3):
        rows = (counts >= c).nonzero().squeeze(1)
        picks = torch.multinomial(popularity, len(rows), replacement=True,
                                  generator=g)
        labels[rows, picks] = 1.
    return labels


def _lenet_model(torch, bits: int, n: int, multi: bool):
    from mmpretrain.registry import MODELS
    stream = dict(backbone=dict(type='LeNet5'),
                  head=dict(type='HashHead', in_channels=120, num_bits=bits,
                            activation='identity'))
    model = MODELS.build(dict(
        type='DualAsymmetricHasher', stream_f=stream, stream_g=stream,
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[33.3],
                               std=[78.6]),
        code_loss=dict(type='AsymmetricInnerProductLoss',
                       similarity='balanced'),
        balance_loss=dict(type='BitBalanceLoss', loss_weight=1.),
        alternation='epoch'))
    model.attach_training_set(_synthetic_labels(torch, n, multi))
    return model


def code_update_case(n: int, bits: int, multi: bool, sweeps: int) -> dict:
    """Time and memory of the B-step on random outputs."""
    torch = _setup_child()
    from hashplugins.models.utils import (closed_form_update, dcc_update,
                                          inner_product_code_objective,
                                          label_patterns)
    model = _lenet_model(torch, bits, n, multi)
    bank = model.code_bank
    g = torch.Generator().manual_seed(1)
    bank.outputs_f.copy_(torch.randn(n, bits, generator=g))
    bank.outputs_g.copy_(torch.randn(n, bits, generator=g))
    distinct = int(label_patterns(bank.train_labels).patterns.shape[0])
    baseline = _peak_rss_mb()
    start = time.perf_counter()
    stats = model.update_codes('dcc', sweeps=1)
    total_1 = time.perf_counter() - start
    after_first = _peak_rss_mb()
    # Breakdown through the same functions update_codes uses.
    raw = [bank.outputs(name).double() for name in bank.streams]
    soft = [x.tanh() for x in raw]
    ratio = bank.similar_ratio()
    start = time.perf_counter()
    objective = inner_product_code_objective(
        soft, raw, bank.train_labels, model.code_loss.loss_weight,
        model.gap_loss.loss_weight, affine=(1 + ratio, -ratio))
    build_s = time.perf_counter() - start
    codes = bank.codes.double()
    sweep_s = []
    for _ in range(sweeps):
        start = time.perf_counter()
        codes = dcc_update(codes, objective, sweeps=1)
        sweep_s.append(time.perf_counter() - start)
    start = time.perf_counter()
    closed_form_update(objective)
    closed_s = time.perf_counter() - start
    return dict(
        n=n, bits=bits, labels='multi-label (21)' if multi else
        'single-label (10)', distinct_label_sets=distinct,
        update_codes_1_sweep_s=total_1, build_objective_s=build_s,
        dcc_sweep_s=statistics.median(sweep_s), closed_form_s=closed_s,
        objective_before=stats['objective_before'],
        objective_after=stats['objective_after'],
        rss_before_mb=baseline, peak_rss_increase_mb=max(
            after_first - baseline, 0.), peak_rss_mb=_peak_rss_mb(),
        dense_similarity_gb=n * n * 4 / 1e9)


def epoch_estimate_case(n: int, bits: int, iters: int,
                        column_sample=None, network_only=False) -> dict:
    """Per-image throughput of one training iteration with N-row buffers.

    ``network_only`` times just the stream's forward/backward/step on a
    trivial loss: the floor any method with this network pays.
    """
    torch = _setup_child()
    from mmengine.optim import OptimWrapper, OptimWrapperDict
    from mmpretrain.structures import DataSample
    model = _lenet_model(torch, bits, n, multi=False)
    model.column_sample = column_sample
    wrappers = OptimWrapperDict(**{
        f'stream_{name}': OptimWrapper(
            torch.optim.Adam(stream.parameters(), lr=1e-3))
        for name, stream in model.streams.items()
    })
    g = torch.Generator().manual_seed(0)

    def batch():
        idx = torch.randint(n, (64, ), generator=g).tolist()
        samples = [DataSample(metainfo=dict(sample_idx=i)).set_gt_label(
            int(model.code_bank.train_labels[i].argmax())) for i in idx]
        return dict(inputs=torch.rand(64, 1, 32, 32, generator=g) * 255,
                    data_samples=samples)

    def network_step(data):
        data = model.data_preprocessor(data, True)
        loss = model.stream_f(data['inputs'], mode='tensor').pow(2).mean()
        wrappers['stream_f'].update_params(loss)

    times = []
    for step in range(iters + 3):
        model.set_train_progress(epoch=0, iteration=step)
        data = batch()
        start = time.perf_counter()
        if network_only:
            network_step(data)
        else:
            model.train_step(data, wrappers)
        if step >= 3:  # warm-up
            times.append(time.perf_counter() - start)
    per_iter = statistics.median(times)
    images_per_s = 64 / per_iter
    return dict(n=n, bits=bits, batch=64, timed_iters=iters,
                column_sample=column_sample, network_only=network_only,
                train_step_s=per_iter, images_per_s=images_per_s,
                epoch_estimate_s=n / images_per_s,
                peak_rss_mb=_peak_rss_mb())


# ----------------------------------------------------------------------------
def _child(kind: str, **kwargs) -> dict:
    """Run one case in a fresh interpreter (isolated RSS, 1 thread)."""
    cmd = [sys.executable, osp.abspath(__file__), '--child', kind,
           json.dumps(kwargs)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    lines = [x for x in out.stdout.splitlines() if x.startswith('RESULT ')]
    if out.returncode or not lines:
        raise RuntimeError(f'{kind} {kwargs} failed:\n{out.stderr[-3000:]}')
    return json.loads(lines[-1][len('RESULT '):])


def hardware() -> dict:
    import torch
    import mmengine
    import mmpretrain
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                            capture_output=True, text=True, cwd=REPO)
    commit = os.environ.get('HASHPLUGINS_COMMIT', commit.stdout.strip())
    return dict(cpu=cpu_name(), logical_cpus=os.cpu_count(),
                threads_per_process=1, python=platform.python_version(),
                torch=torch.__version__, mmengine=mmengine.__version__,
                mmpretrain=mmpretrain.__version__,
                commit=commit or None, gpu=None)


def summarize_quality(runs):
    """Mean ± std over seeds per (variant, code source, bits)."""
    table = {}
    for r in runs:
        for source, value in r.get('mAP_by_code', {'f': r['mAP']}).items():
            name = r['variant'] if source == 'f' and r['variant'].startswith(
                'single') else f"{r['variant']} ({source})"
            table.setdefault((name, r['bits']), []).append(value)
    rows = []
    for (variant, bits), values in sorted(table.items(),
                                          key=lambda x: (x[0][1], x[0][0])):
        rows.append(dict(variant=variant, bits=bits, seeds=len(values),
                         mean=statistics.mean(values),
                         std=statistics.stdev(values) if len(values) > 1
                         else 0., values=values))
    return rows


def summarize_shares(runs):
    """Mean over seeds of each logged gradient share, per code length."""
    table = {}
    for r in runs:
        for key, value in r.get('grad_shares', {}).items():
            table.setdefault((r['bits'], key), []).append(value)
    return [dict(bits=bits, term=key, mean=statistics.mean(values),
                 seeds=len(values))
            for (bits, key), values in sorted(table.items())]


def write_markdown(result: dict, path: str) -> None:
    hw = result['hardware']
    lines = ['# DADH benchmark', '',
             f"Machine: {hw['cpu']}, {hw['logical_cpus']} logical CPUs "
             f"(shared with other jobs), 1 torch thread per process, no GPU; "
             f"torch {hw['torch']}, mmengine {hw['mmengine']}, mmpretrain "
             f"{hw['mmpretrain']}.", '']
    if result.get('quality'):
        q = result['quality_setup']
        lines += [
            '## Retrieval quality: DADH vs its single-stream ablation', '',
            f"Data: {q['data']}. Model: {q['model']}. Budget: {q['budget']}."
            f" Metric: {q['metric']}. Code: commit {q.get('commit')}.", '',
            '| variant | bits | mAP@all (mean ± std) | seeds | per seed |',
            '|---|---|---|---|---|']
        for row in result['quality']:
            values = ', '.join(f'{v:.4f}' for v in row['values'])
            lines.append(f"| {row['variant']} | {row['bits']} | "
                         f"{row['mean']:.4f} ± {row['std']:.4f} | "
                         f"{row['seeds']} | {values} |")
        lines.append('')
        if result.get('grad_shares'):
            lines += [
                "Each DADH term's share of the gradient norm on the stream "
                "outputs, ||dL_t/dF|| / sum_u ||dL_u/dF||, logged every "
                f"{GRAD_SHARE_INTERVAL} iterations, mean over the run and "
                'the seeds (pair = cross-stream likelihood, code = features '
                '<-> B, gap = ||tanh F - B||^2, balance = bit balance):', '',
                '| bits | term_stream | share |', '|---|---|---|']
            for row in result['grad_shares']:
                lines.append(f"| {row['bits']} | "
                             f"{row['term'][len('grad_share_'):]} | "
                             f"{row['mean']:.3f} |")
            lines.append('')
    if result.get('learned_b'):
        q = result['learned_b_setup']
        lines += [
            '## Learned B as database codes (protocol b)', '',
            f"Data: {q['data']}. Model: {q['model']}. Budget: "
            f"{q['budget']}. Metric: {q['metric']}. Code: commit "
            f"{q.get('commit')}.", '',
            '| variant | bits | mAP@all (mean ± std) | seeds | per seed |',
            '|---|---|---|---|---|']
        for row in result['learned_b']:
            values = ', '.join(f'{v:.4f}' for v in row['values'])
            lines.append(f"| {row['variant']} | {row['bits']} | "
                         f"{row['mean']:.4f} ± {row['std']:.4f} | "
                         f"{row['seeds']} | {values} |")
        lines.append('')
    if result.get('pilot'):
        p = result['pilot_setup']
        lines += [
            '## Knob pilot on the validation split', '',
            f"Config: {p['config']}. Data: {p['data']}. Budget: "
            f"{p['budget']}. Each pilot changes the defaults as listed "
            f"(JSON); mAP@all over codes f, g and sign(F + G); distinct B = "
            f"distinct rows of the learned training codes at the end. "
            f"Code: commit {p.get('commit')}.", '']
        for name, knobs in p['knobs'].items():
            lines.append(f'- {name}: `{json.dumps(knobs)}`')
        lines += ['', '| pilot | bits | mAP@all (mean ± std) | seeds | '
                  'per seed | distinct B |', '|---|---|---|---|---|---|']
        distinct = {}
        for r in result['pilot_runs']:
            distinct.setdefault((r['variant'], r['bits']), []).append(
                str(r.get('distinct_B')))
        for row in result['pilot']:
            values = ', '.join(f'{v:.4f}' for v in row['values'])
            name = row['variant'].rsplit(' (', 1)[0]
            lines.append(f"| {row['variant']} | {row['bits']} | "
                         f"{row['mean']:.4f} ± {row['std']:.4f} | "
                         f"{row['seeds']} | {values} | "
                         f"{', '.join(distinct[(name, row['bits'])])} |")
        lines.append('')
    if result.get('code_update'):
        epoch = result['epoch_estimate']
        lines += [
            f"## Code update (B-step) at N = {epoch['n']:,}, k = "
            f"{epoch['bits']}", '',
            'Random stream outputs, synthetic labels; one fresh process per '
            'case. The epoch time is estimated from the measured throughput '
            f"of the DADH train_step ({epoch['images_per_s']:.0f} images/s, "
            'LeNet-5 stream, batch 64, N-row buffers, data loading '
            f"excluded): {epoch['epoch_estimate_s']:.0f} s per epoch. Code: "
            f"commit {result.get('speed_commit')}.", '',
            '| labels | distinct label sets | build J (s) | DCC sweep (s) | '
            'update_codes, 1 sweep (s) | share of an epoch | closed form (s) '
            '| peak RSS increase (MB) | dense S would need (GB) |',
            '|---|---|---|---|---|---|---|---|---|']
        for c in result['code_update']:
            share = c['update_codes_1_sweep_s'] / epoch['epoch_estimate_s']
            lines.append(
                f"| {c['labels']} | {c['distinct_label_sets']} | "
                f"{c['build_objective_s']:.2f} | {c['dcc_sweep_s']:.2f} | "
                f"{c['update_codes_1_sweep_s']:.2f} | {share:.2%} | "
                f"{c['closed_form_s']:.3f} | {c['peak_rss_increase_mb']:.0f} "
                f"| {c['dense_similarity_gb']:.0f} |")
        lines.append('')
        update = max(c['update_codes_1_sweep_s']
                     for c in result['code_update'])
        lines += [
            'The slowest B-step (update_codes, 1 sweep) against other epoch '
            'times at the same N (same measurement method):', '',
            '| training iteration | images/s | epoch estimate (s) | B-step '
            'share |', '|---|---|---|---|']
        for e in [epoch] + result.get('epoch_estimate_variants', []):
            what = ('stream network only (forward, backward, step; no DADH '
                    'loss)' if e.get('network_only') else
                    'DADH train_step, pair terms over ' +
                    (f"{e['column_sample']} sampled columns"
                     if e.get('column_sample') else 'all N columns'))
            lines.append(f"| {what} | {e['images_per_s']:.0f} | "
                         f"{e['epoch_estimate_s']:.0f} | "
                         f"{update / e['epoch_estimate_s']:.2%} |")
        lines.append('')
    lines.append('Generated by `python benchmarks/dadh_benchmark.py`.')
    with open(path + '.tmp', 'w') as f:
        f.write('\n'.join(lines) + '\n')
    os.replace(path + '.tmp', path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--bits', type=int, nargs='+', default=[16, 32])
    parser.add_argument('--epochs', type=int, default=10)
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument('--n', type=int, default=200_000)
    parser.add_argument('--code-bits', type=int, default=64)
    parser.add_argument('--sweeps', type=int, default=3)
    parser.add_argument('--skip-quality', action='store_true')
    parser.add_argument(
        '--pilot', nargs='*', metavar='NAME',
        help='run the knob pilots (all of PILOTS, or these) on the '
        'validation config, with --seeds and --bits')
    parser.add_argument('--skip-speed', action='store_true')
    parser.add_argument(
        '--learned-b', action='store_true',
        help="also run the variants on protocol 'b' and score the learned "
        'training codes B as database codes')
    parser.add_argument(
        '--keep-existing', action='store_true',
        help='keep the sections of an existing dadh.json that are skipped')
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, kwargs = args.child[0], json.loads(args.child[1])
        fn = dict(quality=quality_run, code_update=code_update_case,
                  epoch=epoch_estimate_case)[kind]
        print('RESULT ' + json.dumps(fn(**kwargs)), flush=True)
        return

    path = osp.join(RESULTS, 'dadh')
    result = {}
    if args.keep_existing and osp.exists(path + '.json'):
        with open(path + '.json') as f:
            result = json.load(f)
    if 'quality_setup' in result:  # runs kept from an earlier invocation
        result['quality_setup'].setdefault(
            'commit', result.get('hardware', {}).get('commit'))
    result['hardware'] = hardware()
    if args.pilot is not None:
        names = args.pilot or list(PILOTS)
        jobs = [dict(variant=name, bits=b, seed=s, epochs=args.epochs,
                     knobs=PILOTS[name])
                for b in args.bits for s in args.seeds for name in names]
        start = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(lambda kw: _child('quality', **kw), jobs))
        result['pilot_wall_s'] = result.get('pilot_wall_s', 0.) + (
            time.perf_counter() - start)
        # Pilots not rerun now are kept from earlier invocations.
        runs = [r for r in result.get('pilot_runs', [])
                if r['variant'] not in names] + runs
        result['pilot_runs'] = runs
        result['pilot'] = summarize_quality(runs)
        result['pilot_setup'] = dict(
            config='configs/dadh/dadh_lenet5_mnist-val_16bit.py',
            data='MNIST protocol a training images only: 500 (50/class, '
            'seeded) held out as validation queries, retrieving from the '
            'other 4,500, which are the whole training set',
            budget=f'{args.epochs} epochs, batch 64, Adam 1e-3 cosine',
            knobs={r['variant']: r['knobs'] for r in runs},
            commit=result['hardware']['commit'])
    if not args.skip_quality:
        if not osp.isdir(osp.join(SHARED, 'mnist')):
            sys.exit(f'no MNIST at {SHARED}/mnist: set HASHPLUGINS_DATA')
        jobs = [dict(variant=v, bits=b, seed=s, epochs=args.epochs)
                for b in args.bits for s in args.seeds for v in VARIANTS]
        start = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(lambda kw: _child('quality', **kw), jobs))
        result['quality_wall_s'] = time.perf_counter() - start
        result['quality_runs'] = runs
        result['quality'] = summarize_quality(runs)
        result['grad_shares'] = summarize_shares(runs)
        result['quality_setup'] = dict(
            data='MNIST (shared copy, bit-exact official idx files), '
            'protocol a: 1,000 queries (100/class), 5,000 training images '
            '(500/class), 64,000 database images; 32x32 gray',
            model='LeNet-5 stream(s) from scratch, configs/dadh/'
            'dadh_lenet5_mnist_16bit.py with head.num_bits set (defaults: '
            'both streams on every batch, B from seeded random +-1, B-step '
            'after every epoch, gap on tanh F, eta = 1, chosen on the '
            'validation split); single_stream = the same with '
            'stream_g=None',
            budget=f'batch 64, Adam 1e-3 cosine; dadh and single_stream '
            f'{args.epochs} epochs, single_stream_2x {2 * args.epochs} epochs '
            '= as many network forward/backward passes as dadh (two streams '
            'per batch); the B-step after every epoch in all',
            metric='mAP@all (stable tie order, the engine of '
            'HammingRetrievalMetric) over query and database codes '
            'sign(F) (dadh (f), single stream), sign(G) (dadh (g)) or '
            'sign(F + G) (dadh (sum)), from one pass over the evaluation '
            'images per run',
            jobs_in_parallel=args.jobs,
            commit=result['hardware']['commit'])
    if args.learned_b:
        jobs = [dict(variant=v, bits=b, seed=s, epochs=args.epochs,
                     protocol='b')
                for b in args.bits for s in args.seeds for v in VARIANTS]
        start = time.perf_counter()
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = list(pool.map(lambda kw: _child('quality', **kw), jobs))
        result['learned_b_wall_s'] = time.perf_counter() - start
        result['learned_b_runs'] = runs
        result['learned_b'] = summarize_quality(runs)
        result['learned_b_setup'] = dict(
            data='MNIST (shared copy), protocol b: the same 1,000 queries '
            '(100/class) and 5,000 training images (500/class) as protocol '
            'a, database = all 69,000 non-query images, the training images '
            'included; 32x32 gray',
            model='as in the protocol-a table, plus learned_database_codes '
            '(the model keeps the pool ids of its training items)',
            budget='as in the protocol-a table (single_stream_2x: twice the '
            'epochs = DADH\'s network passes)',
            metric="mAP@all; '<code>+B' = the same query codes, and the "
            'database items that are training items take their row of the '
            'learned B instead of their network code (5,000 of 69,000)',
            jobs_in_parallel=args.jobs,
            commit=result['hardware']['commit'])
    if not args.skip_speed:
        result['code_update'] = [
            _child('code_update', n=args.n, bits=args.code_bits, multi=multi,
                   sweeps=args.sweeps) for multi in (False, True)
        ]
        result['epoch_estimate'] = _child('epoch', n=args.n,
                                          bits=args.code_bits, iters=30)
        # ADSH-style column sampling, and the bare network: cheaper epochs
        # against which the same B-step weighs more.
        result['epoch_estimate_variants'] = [
            _child('epoch', n=args.n, bits=args.code_bits, iters=30,
                   column_sample=2000),
            _child('epoch', n=args.n, bits=args.code_bits, iters=30,
                   network_only=True)
        ]
        result['speed_commit'] = result['hardware']['commit']
    os.makedirs(RESULTS, exist_ok=True)
    with open(path + '.json.tmp', 'w') as f:
        json.dump(result, f, indent=2)
    os.replace(path + '.json.tmp', path + '.json')
    write_markdown(result, path + '.md')
    print(open(path + '.md').read())


if __name__ == '__main__':
    main()
