"""Encoding overhead: HashEncoder vs a plain PyTorch loop, and the import
time of ``tools/encode.py`` (issue #19, item 4).

In one run, timings interleaved (the order rotates every repeat), medians,
ratios of medians from this run:

* dataset: LeNet-5 (the DPSH MNIST config, untrained weights, seed 0) on
  real MNIST from ``../shared/data`` (``$HASHPLUGINS_DATA``) through
  ``MNISTHashing`` (protocol 'a', seed 0, 28x28 gray, the config's test
  pipeline: Resize to 32 + PackHashInputs): the first ``--images`` samples
  of the query+database order (the 1,000 queries, then database images).
  Variants: a plain PyTorch loop (the same dataset object and pipeline
  through a torch ``DataLoader`` whose collate only stacks the inputs;
  normalize, forward, sign, numpy), ``HashEncoder.encode_dataset`` as it
  is now, and the implementation before commit aa0ff4d (copied verbatim
  below as :class:`PreAa0ff4dEncoder`). Codes and labels are checked equal.
* arrays: the same images as a list of 28x28 ``uint8`` arrays through
  ``HashEncoder.__call__`` (now, and before aa0ff4d) vs a plain loop
  (``mmcv.imresize`` as the Resize transform does it, stack, normalize,
  forward, sign). Codes checked equal.
* import: wall time of ``python tools/encode.py --help`` and of
  ``python -c "import hashplugins.apis"`` (what an encode run imports
  before it can start) in fresh subprocesses, for this tree and for a
  ``git archive`` of ``--before-rev`` (the code before the import fix),
  interleaved; ``-X importtime``: the modules with the largest cumulative
  import time.

Writes ``benchmarks/results/encode_overhead.{json,md}`` (``--quick``: tiny
sizes, prints the results, writes only where ``--out`` is given).

Usage:
    nice -n 5 python benchmarks/encode_overhead.py [--images 5000]
        [--repeats 7] [--import-repeats 5] [--threads 1] [--quick]
"""
import argparse
import json
import os
import os.path as osp
import platform
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
from bench_utils import cpu_name  # noqa: E402

SHARED = os.environ.get('HASHPLUGINS_DATA',
                        osp.join(REPO, '..', 'shared', 'data'))
CONFIG = 'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py'
# The last commit before this benchmark's import fix (tools/encode.py
# importing the whole package before argparse ran).
BEFORE_REV = 'aa0ff4d'
BATCH = 64  # encode_dataset's default batch size


# ----------------------------------------------------------- reference
def pre_aa0ff4d_encoder_class():
    """``HashEncoder`` with ``encode_dataset``, ``_encode`` and
    ``_multihot`` as they were before commit aa0ff4d (verbatim from
    ``git show aa0ff4d^:hashplugins/apis/hash_encoder.py``): the "before"
    of that commit's per-sample work, measured in the same run."""
    from typing import Optional, Sequence

    import numpy as np
    import torch
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader, Subset

    from hashplugins.apis import EncodedImages, HashEncoder
    from hashplugins.apis.hash_encoder import SPLITS
    from hashplugins.evaluation.functional.codes import (batch_to_host,
                                                         binarize_batch,
                                                         pack_codes)

    class PreAa0ff4dEncoder(HashEncoder):
        # ---- verbatim from aa0ff4d^ (begin) ----
        def encode_dataset(self,
                           dataset=None,
                           split: str = 'database',
                           subset: Optional[Sequence[int]] = None,
                           batch_size: int = 64,
                           num_workers: int = 0,
                           progress: bool = True) -> EncodedImages:
            if split not in SPLITS + ('all', ):
                raise ValueError(f"split must be 'query', 'database' or "
                                 f"'all'; got {split!r}")
            if dataset is None or isinstance(dataset, dict):
                dataset = self.build_dataset(dataset)
            indices = np.arange(len(dataset))
            if split != 'all' and hasattr(dataset, 'query') \
                    and hasattr(dataset, 'database'):
                num_q = len(dataset.query)
                indices = indices[:num_q] if split == 'query' \
                    else indices[num_q:]
            if subset is not None:
                subset = np.asarray(subset, dtype=np.int64)
                if subset.size and (subset.min() < 0
                                    or subset.max() >= len(indices)):
                    raise IndexError(f'subset positions must be in [0, '
                                     f'{len(indices)}) for split {split!r}')
                indices = indices[subset]
            tag = 'database' if split == 'all' else split
            out = self._encode(
                Subset(dataset, indices.tolist()), batch_size, tag,
                num_workers, progress)
            paths = [
                str(dataset.get_data_info(int(i)).get('img_path', ''))
                for i in indices
            ] if hasattr(dataset, 'get_data_info') else [''] * len(indices)
            classes = getattr(dataset, 'metainfo', {}).get('classes')
            return out._replace(
                ids=indices.astype(np.int64),
                paths=paths,
                classes=list(classes) if classes else None)

        @torch.no_grad()
        def _encode(self, dataset, batch_size, split, num_workers,
                    progress) -> EncodedImages:
            from mmpretrain.utils import track
            loader = DataLoader(
                dataset,
                batch_size=batch_size,
                shuffle=False,
                num_workers=num_workers,
                collate_fn=pseudo_collate)
            batches = track(loader, 'Encoding', total=len(loader)) \
                if progress else loader
            bits, labels = [], []
            for data in batches:
                for sample in data['data_samples']:
                    # Asymmetric models read the split; set it whatever the
                    # pipeline's meta keys are.
                    sample.set_metainfo(dict(split=split))
                samples = self.model.test_step(data)
                # One host read per batch for the codes and one for the
                # labels.
                bits.append(
                    binarize_batch([s.hash_code for s in samples],
                                   'hash_code'))
                labels.extend(
                    batch_to_host([s.get('gt_label') for s in samples],
                                  np.int64))
            if not bits:
                raise ValueError('nothing to encode: the input is empty')
            codes = np.concatenate(bits).astype(np.int8) * 2 - 1
            if self.num_bits is None:
                self.num_bits = codes.shape[1]
            return EncodedImages(codes, pack_codes(codes),
                                 np.arange(len(codes), dtype=np.int64),
                                 [''] * len(codes), self._multihot(labels))

        def _multihot(self, labels) -> Optional[np.ndarray]:
            if any(lab is None for lab in labels):
                return None
            width = max((int(lab.max()) + 1 for lab in labels if lab.size),
                        default=1)
            classes = self.cfg.get('model', {}).get('head', {}).get(
                'num_classes')
            width = max(width, int(classes or 0))
            out = np.zeros((len(labels), width), dtype=np.uint8)
            for row, lab in zip(out, labels):
                row[lab] = 1
            return out
        # ---- verbatim from aa0ff4d^ (end) ----

    return PreAa0ff4dEncoder


# ----------------------------------------------------------- plain loops
def _stack_inputs_and_labels(batch):
    """The plain loop's collate: images stacked, labels concatenated."""
    import torch
    return (torch.stack([b['inputs'] for b in batch]),
            torch.cat([b['data_samples'].gt_label for b in batch]))


def plain_dataset_loop(model, dataset, indices, batch_size):
    """Same dataset and pipeline through a torch DataLoader; normalize,
    forward, sign, numpy. Returns (codes, labels)."""
    import numpy as np
    import torch
    from torch.utils.data import DataLoader, Subset
    pre = model.data_preprocessor
    codes, labels = [], []
    loader = DataLoader(Subset(dataset, indices), batch_size=batch_size,
                        shuffle=False, collate_fn=_stack_inputs_and_labels)
    with torch.no_grad():
        for x, y in loader:
            out = model((x.float() - pre.mean) / pre.std, mode='tensor')
            codes.append(torch.where(out >= 0, 1, -1).to(torch.int8).numpy())
            labels.append(y.numpy())
    return np.concatenate(codes), np.concatenate(labels)


def forward_only_loop(model, batches):
    """Inputs already through the pipeline and stacked (uint8 batches):
    normalize, forward, sign. The floor under any loop over images."""
    import numpy as np
    import torch
    pre = model.data_preprocessor
    codes = []
    with torch.no_grad():
        for x in batches:
            out = model((x.float() - pre.mean) / pre.std, mode='tensor')
            codes.append(torch.where(out >= 0, 1, -1).to(torch.int8).numpy())
    return np.concatenate(codes)


def plain_array_loop(model, images, batch_size, pipeline=None,
                     size=(32, 32)):
    """Gray uint8 arrays: resized as the Resize transform does (cv2,
    bilinear), or, with ``pipeline``, each through that test pipeline (as
    ``HashEncoder`` runs it); stacked, normalized, forward, sign."""
    import mmcv
    import numpy as np
    import torch
    pre = model.data_preprocessor

    def one(img):
        if pipeline is None:
            return torch.from_numpy(
                mmcv.imresize(img, size, interpolation='bilinear',
                              backend='cv2')[None])
        return pipeline(dict(img=img, img_shape=img.shape[:2],
                             ori_shape=img.shape[:2]))['inputs']

    codes = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = torch.stack([one(a) for a in images[start:start + batch_size]])
            out = model((x.float() - pre.mean) / pre.std, mode='tensor')
            codes.append(torch.where(out >= 0, 1, -1).to(torch.int8).numpy())
    return np.concatenate(codes)


# ----------------------------------------------------------- timing
def interleaved(candidates: dict, repeats: int) -> dict:
    """Seconds per candidate over ``repeats`` rounds, the order rotating
    each round; median, min and all times."""
    names = list(candidates)
    times = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            candidates[n]()
            times[n].append(time.perf_counter() - start)
    return {
        n: dict(median_s=statistics.median(t), min_s=min(t),
                all_s=[round(x, 4) for x in t])
        for n, t in times.items()
    }


def _with_ratios(rows: dict, base: str, num: int) -> dict:
    for row in rows.values():
        row['images_per_s'] = num / row['median_s']
        row['ratio_vs_plain'] = row['median_s'] / rows[base]['median_s']
        row['extra_us_per_image_vs_plain'] = 1e6 * (
            row['median_s'] - rows[base]['median_s']) / num
    return rows


def build_encoder(encoder_cls, mnist_root):
    """The LeNet-5 DPSH config with its test set on the real MNIST,
    seeded initial weights (the same for every encoder class)."""
    import torch
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, CONFIG))
    for split in ('query', 'database'):
        cfg.test_dataloader.dataset[split] = dict(
            type='MNISTHashing', data_root=mnist_root, protocol='a', seed=0,
            split=split, three_channels=False)
    torch.manual_seed(0)
    return encoder_cls(cfg, device='cpu')


def encode_bench(args) -> dict:
    import numpy as np
    import torch

    from hashplugins.apis import HashEncoder
    mnist = osp.join(SHARED, 'mnist')
    if not osp.isdir(mnist):
        print(f'skip encode cases: {mnist} is absent (set HASHPLUGINS_DATA)')
        return dict(skipped=f'{mnist} is absent')
    now = build_encoder(HashEncoder, mnist)
    old = build_encoder(pre_aa0ff4d_encoder_class(), mnist)
    old.model.load_state_dict(now.model.state_dict())  # same weights
    model = now.model
    dataset = now.build_dataset()
    indices = list(range(args.images))
    out = {}

    # (a) a dataset through its own pipeline.
    batches = [
        torch.stack([dataset[i]['inputs'] for i in indices[k:k + BATCH]])
        for k in range(0, len(indices), BATCH)
    ]
    runs = {
        'forward only (inputs made in advance)':
        lambda: forward_only_loop(model, batches),
        'plain PyTorch loop':
        lambda: plain_dataset_loop(model, dataset, indices, BATCH),
        'HashEncoder.encode_dataset (now)':
        lambda: now.encode_dataset(dataset, split='all', subset=indices,
                                   batch_size=BATCH, progress=False),
        'HashEncoder.encode_dataset (before aa0ff4d)':
        lambda: old.encode_dataset(dataset, split='all', subset=indices,
                                   batch_size=BATCH, progress=False),
    }
    results = {name: run() for name, run in runs.items()}  # also warm-up
    codes, labels = results.pop('plain PyTorch loop')
    equal = np.array_equal(
        results.pop('forward only (inputs made in advance)'), codes)
    onehot = np.zeros((len(labels), 10), np.uint8)
    onehot[np.arange(len(labels)), labels] = 1
    equal = equal and all(
        np.array_equal(r.codes, codes) and np.array_equal(r.labels, onehot)
        and np.array_equal(r.packed, np.packbits(codes > 0, axis=1))
        and np.array_equal(r.ids, indices) for r in results.values())
    rows = _with_ratios(interleaved(runs, args.repeats),
                        'plain PyTorch loop', len(indices))
    out['dataset'] = dict(
        data=f'MNIST from ../shared/data (MNISTHashing protocol a, seed 0): '
        f'the first {len(indices)} samples of the query+database order',
        images=len(indices), batch_size=BATCH, rows=rows,
        results_equal=bool(equal))
    print('dataset', json.dumps(out['dataset'], indent=1), flush=True)

    # (b) in-memory arrays (the same images, 28x28 uint8).
    images = [dataset.get_data_info(i)['img'][:, :, 0] for i in indices]
    runs = {
        'plain PyTorch loop': lambda: plain_array_loop(model, images, BATCH),
        'plain loop, the encoder\'s test pipeline per image':
        lambda: plain_array_loop(model, images, BATCH, now.pipeline),
        'HashEncoder(arrays) (now)':
        lambda: now(images, batch_size=BATCH, progress=False),
        'HashEncoder(arrays) (before aa0ff4d)':
        lambda: old(images, batch_size=BATCH, progress=False),
    }
    results = {name: run() for name, run in runs.items()}
    codes = results.pop('plain PyTorch loop')
    equal = np.array_equal(results.pop(
        'plain loop, the encoder\'s test pipeline per image'), codes)
    equal = equal and all(
        np.array_equal(r.codes, codes) for r in results.values())
    rows = _with_ratios(interleaved(runs, args.repeats),
                        'plain PyTorch loop', len(images))
    out['arrays'] = dict(
        data='the same MNIST images as a list of 28x28 uint8 arrays',
        images=len(images), batch_size=BATCH, rows=rows,
        results_equal=bool(equal))
    print('arrays', json.dumps(out['arrays'], indent=1), flush=True)
    return out


# ----------------------------------------------------------- imports
def _env():
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONWARNINGS='ignore')
    env.pop('PYTHONPATH', None)  # each tree imports its own hashplugins
    return env


def _commands(root):
    return {
        'tools/encode.py --help':
        [sys.executable, osp.join(root, 'tools', 'encode.py'), '--help'],
        'import hashplugins.apis':
        [sys.executable, '-c', 'import hashplugins.apis'],
    }


def _run(cmd, root, extra=()):
    start = time.perf_counter()
    proc = subprocess.run(cmd[:1] + list(extra) + cmd[1:], cwd=root,
                          env=_env(), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f'{cmd} in {root} failed: {proc.stderr[-2000:]}')
    return wall, proc.stderr


def _checkout(rev, dest):
    """``hashplugins/`` and ``tools/`` of ``rev`` (git archive, read-only);
    None without git or the revision."""
    try:
        data = subprocess.run(
            ['git', '-C', REPO, 'archive', '--format=tar', rev,
             'hashplugins', 'tools'], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        print(f'no {rev} tree for the import "before" ({err}); skipped')
        return None
    tar_path = osp.join(dest, 'tree.tar')
    with open(tar_path, 'wb') as f:
        f.write(data)
    with tarfile.open(tar_path) as tar:
        tar.extractall(osp.join(dest, 'tree'))
    return osp.join(dest, 'tree')


def importtime_top(stderr: str, top: int) -> dict:
    """The largest cumulative import times in ``-X importtime`` output:
    of the script's own imports (depth 0) and of every top-level package
    (``torch``, ``mmpretrain``, ...: their first import, so a package's
    time includes the packages it imports first, e.g. mmpretrain's torch).
    """
    rows, total = [], 0.0
    for line in stderr.splitlines():
        m = re.match(r'import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)', line)
        if not m:
            continue
        name, cum = m.group(4), int(m.group(2)) / 1e6
        depth = (len(m.group(3)) - 1) // 2
        total += cum if depth == 0 else 0.0
        if depth == 0 or '.' not in name:
            rows.append(dict(module=name, cumulative_s=cum, depth=depth))
    rows.sort(key=lambda r: -r['cumulative_s'])
    return dict(total_s=total, top=rows[:top])


def _package_origin(root):
    """Where ``hashplugins`` is found from ``root`` (each tree must import
    its own copy, not the editable install's)."""
    cmd = [sys.executable, '-c', 'import importlib.util as u; '
           'print(u.find_spec("hashplugins").origin)']
    return subprocess.run(cmd, cwd=root, env=_env(), capture_output=True,
                          text=True, check=True).stdout.strip()


def import_bench(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        trees = {'now': REPO}
        before = None if args.quick else _checkout(args.before_rev, tmp)
        if before is not None:
            trees[f'before ({args.before_rev})'] = before
        for tree, root in trees.items():
            origin = _package_origin(root)
            if not origin.startswith(root + os.sep):
                raise RuntimeError(f'{tree}: hashplugins found at {origin}, '
                                   f'not in {root}')
        runs = {}
        for tree, root in trees.items():
            for name, cmd in _commands(root).items():
                runs[f'{name} [{tree}]'] = (
                    lambda cmd=cmd, root=root: _run(cmd, root))
        rows = interleaved(runs, args.import_repeats)
        breakdown = {}
        for tree, root in trees.items():
            cmd = _commands(root)['tools/encode.py --help']
            breakdown[tree] = importtime_top(
                _run(cmd, root, ['-X', 'importtime'])[1], args.top_imports)
    return dict(rows=rows, help_importtime=breakdown,
                before_rev=args.before_rev if before is not None else None)


# ----------------------------------------------------------- report
def write_md(report: dict, path: str) -> None:
    m = report['machine']
    lines = [
        '# Encoding overhead: HashEncoder vs a plain PyTorch loop', '',
        '`benchmarks/encode_overhead.py`, one run. Machine: '
        f'{m["cpu"]}, {m["logical_cores"]} logical cores shared with other '
        f'jobs, torch {m["torch"]} with {m["threads"]} thread(s), device '
        f'cpu, no GPU. Load average {m["load_average_start"]:.2f} at '
        f'start, {m["load_average_end"]:.2f} at end. Python {m["python"]}. '
        f'Medians of {report["repeats"]} interleaved repeats (order '
        'rotating); ratios are of medians from this run. Model: LeNet-5 of '
        f'`{CONFIG}`, untrained weights (seed 0), batch {BATCH}.', '']
    enc = report.get('encode', {})
    if 'skipped' in enc:
        lines += [f'Encode cases skipped: {enc["skipped"]}.', '']
    for key, title in (('dataset', 'Dataset (`encode_dataset`)'),
                       ('arrays', 'In-memory arrays (`HashEncoder(...)`)')):
        if key not in enc:
            continue
        case = enc[key]
        lines += [
            f'## {title}', '',
            f'Data: {case["data"]}; {case["images"]} images. Codes '
            f'{"and labels " if key == "dataset" else ""}of every variant '
            f'equal to the plain loop\'s: **{case["results_equal"]}**.', '',
            '| variant | median s | min s | images/s | ratio vs plain loop '
            '| extra us/image |', '|---|---|---|---|---|---|']
        for name, row in case['rows'].items():
            lines.append(
                f'| {name} | {row["median_s"]:.3f} | {row["min_s"]:.3f} | '
                f'{row["images_per_s"]:.0f} | '
                f'**{row["ratio_vs_plain"]:.2f}x** | '
                f'{row["extra_us_per_image_vs_plain"]:+.1f} |')
        lines.append('')
    imp = report.get('imports', dict(rows={}, help_importtime={},
                                     before_rev=None))
    lines += [
        '## Import time of tools/encode.py', '',
        'Fresh subprocesses, wall time from start to exit; `now` is this '
        'tree, `before` a `git archive` of the commit before the import fix '
        f'({imp["before_rev"] or "not measured"}), interleaved. '
        '`import hashplugins.apis` is what an actual encode run imports '
        'before it starts.', '',
        '| command | median s | min s |', '|---|---|---|']
    for name, row in imp['rows'].items():
        lines.append(f'| {name} | {row["median_s"]:.2f} | '
                     f'{row["min_s"]:.2f} |')
    for tree, info in imp['help_importtime'].items():
        lines += [
            '', f'`python -X importtime tools/encode.py --help` [{tree}]: '
            f'{info["total_s"]:.2f} s of imports in all; the script\'s '
            'own imports and the top-level packages with the largest '
            'cumulative times:',
            '', '| module (first import) | cumulative s |', '|---|---|']
        lines += [f'| {r["module"]} | {r["cumulative_s"]:.3f} |'
                  for r in info['top']]
    lines += ['', report['notes'], '',
              'Generated by `nice -n 5 python benchmarks/encode_overhead.py`.',
              '']
    with open(path, 'w') as f:
        f.write('\n'.join(lines))


NOTES = (
    'Notes. The plain loop shares the dataset and its test pipeline with '
    'the encoder, so its ratio is the cost of the encoding loop itself; '
    '"forward only" (the same inputs stacked beforehand) shows how much of '
    'any image loop is the pipeline (mmcv Resize, PackHashInputs building '
    'a DataSample per image): for LeNet-5 more than half. What the '
    'encoder adds per image, measured apart with timeit on this machine '
    '(batches of 64): mmpretrain\'s ClsDataPreprocessor re-formatting '
    'each sample\'s gt_label and gt_score (~6 us; 0.5 us without labels), '
    'pseudo_collate (~0.5 us), the head writing one hash_code per sample '
    'and reading them back stacked (~1 us), the split tag (~0.3 us). The '
    'encoder keeps the preprocessor and test_step: they are the model\'s '
    'API, and a model\'s predict may read the labels. Before this change '
    'encode_dataset also called get_data_info a second time per sample '
    'for paths an in-memory dataset does not have (~6 us, an image copy); '
    'it now does so only where the pipeline\'s packer drops img_path. An '
    'earlier run of this script (same machine, load 2.3-2.9) with commit '
    'aa0ff4d\'s encoder as "now" measured 1.19x (dataset) and 1.35x '
    '(arrays) against the plain loop. Import: tools/encode.py used to '
    'import hashplugins (torch, mmpretrain, mmcv: all of it) before '
    'argparse ran; now it builds its parser from tools/encoder_args.py '
    '(argparse and mmengine.config) and imports hashplugins in main, after '
    'the arguments parsed. An actual encode still needs the whole package '
    '(the `import hashplugins.apis` row, unchanged): mmpretrain\'s registry '
    'import alone pulls in torch, mmcv and mmengine\'s model code, and its '
    'transforms (PackInputs) all of torchvision, so deferring '
    'hashplugins\' own torchvision import (GANSampleGridHook) would save '
    'nothing and was left as it is.')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--images', type=int, default=5000)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--import-repeats', type=int, default=5)
    parser.add_argument('--top-imports', type=int, default=12)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--before-rev', default=BEFORE_REV,
                        help='git revision of the import "before"')
    parser.add_argument('--parts', nargs='+', default=['encode', 'imports'],
                        choices=['encode', 'imports'])
    parser.add_argument('--quick', action='store_true',
                        help='tiny sizes, to check the script runs')
    parser.add_argument('--out', default=None,
                        help='results path without suffix (default '
                        'benchmarks/results/encode_overhead; --quick: '
                        'none, print only)')
    args = parser.parse_args()
    if args.quick:
        args.images, args.repeats, args.import_repeats = 128, 1, 1
    elif args.out is None:
        args.out = osp.join(REPO, 'benchmarks', 'results', 'encode_overhead')
    os.environ.setdefault('HASHPLUGINS_CACHE', osp.join(REPO, '.cache'))
    load_start = os.getloadavg()[0]
    import torch
    torch.set_num_threads(args.threads)
    report = dict(repeats=args.repeats, quick=args.quick)
    if 'imports' in args.parts:
        report['imports'] = import_bench(args)
        print('imports', json.dumps(report['imports'], indent=1), flush=True)
    if 'encode' in args.parts:
        report['encode'] = encode_bench(args)
    report['machine'] = dict(
        cpu=cpu_name(), logical_cores=os.cpu_count(), threads=args.threads,
        python=platform.python_version(), torch=torch.__version__,
        load_average_start=load_start, load_average_end=os.getloadavg()[0])
    report['notes'] = NOTES
    if args.out is None:
        print(json.dumps(report, indent=1))
        return
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    tmp = args.out + '.json.tmp'
    with open(tmp, 'w') as f:
        json.dump(report, f, indent=1)
    os.replace(tmp, args.out + '.json')
    write_md(report, args.out + '.md.tmp')
    os.replace(args.out + '.md.tmp', args.out + '.md')
    print(open(args.out + '.md').read())


if __name__ == '__main__':
    main()
