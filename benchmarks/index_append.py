"""Time of ``BinaryIndex.add`` in chunks, old (concatenate everything on
every add) vs new (pending chunks joined once on demand; faiss adds per
chunk), and memory of the paths column.

The old class is the previous commit's ``binary_index.py`` (``--ref``),
read with ``git show`` and executed as a module of
``hashplugins.retrieval`` (its relative imports resolve to this checkout's
``faiss_backend`` / ``index_file``, which it shares with the new class).
Cells, each the median of interleaved repeats (old, new, ... per repeat)
after a warm-up, inputs built before timing:

* 10k-row chunks of 64-bit packed codes with paths (44-character image
  paths) and 21-class labels, ``backend='exact'``, until 200k and 400k
  rows: the add loop alone, and the add loop plus the first access of the
  arrays (``codes``, ``ids``, ``paths``, ``labels``: where the new class
  joins its chunks);
* 1k-row chunks of bare packed 64-bit codes, ``backend='faiss'``, until
  400k rows: the add loop vs raw ``faiss.IndexBinaryFlat.add`` of the same
  chunks, and both plus a first 1-query 10-NN search;
* bytes of the paths of 1M rows: the old fixed-width unicode array vs the
  new UTF-8 buffer + int64 offsets.

Writes ``benchmarks/results/index_append.md``.

Usage:
    python benchmarks/index_append.py [--repeats 5] [--ref COMMIT]
"""
import argparse
import gc
import importlib.util
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
from bench_utils import cpu_name  # noqa: E402

import faiss  # noqa: E402
from hashplugins.retrieval import binary_index as new_module  # noqa: E402
from hashplugins.retrieval.binary_index import PackedStrings  # noqa: E402

# Last commit of binary_index.py before the amortised add.
OLD_REF = '87532c61ec2b792ba96c098de60b7f23cac0d23a'
BITS = 64
CLASSES = 21


def load_old_class(ref: str):
    src = subprocess.run(
        ['git', 'show', f'{ref}:hashplugins/retrieval/binary_index.py'],
        cwd=REPO, check=True, capture_output=True, text=True).stdout
    name = 'hashplugins.retrieval._old_binary_index'
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = 'hashplugins.retrieval'
    sys.modules[name] = module
    exec(compile(src, f'{ref[:10]}:binary_index.py', 'exec'),
         module.__dict__)
    return module.BinaryIndex


def image_path(i: int) -> str:
    return f'data/nus_wide/images/{i % 997:04d}/img_{i:09d}.jpg'


def make_chunks(rng, total, chunk, extras):
    out = []
    for start in range(0, total, chunk):
        item = dict(codes=rng.integers(0, 256, (chunk, BITS // 8),
                                       dtype=np.uint8))
        if extras:
            item['paths'] = [image_path(i)
                             for i in range(start, start + chunk)]
            item['labels'] = rng.integers(0, 2, (chunk, CLASSES),
                                          dtype=np.uint8)
        out.append(item)
    return out


def run_index(cls, backend, chunks, finish):
    index = cls(BITS, backend=backend)
    for item in chunks:
        index.add(item['codes'], paths=item.get('paths'),
                  labels=item.get('labels'))
    if finish == 'arrays':
        index.codes, index.ids, index.paths, index.labels
    elif finish == 'search':
        index.search(chunks[0]['codes'][:1], 10)
    return index


def run_raw_faiss(chunks, finish):
    index = faiss.IndexBinaryFlat(BITS)
    for item in chunks:
        index.add(item['codes'])
    if finish == 'search':
        index.search(chunks[0]['codes'][:1], 10)
    return index


def timed(fn):
    gc.collect()
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(cells, repeats):
    """``cells``: name -> callable; interleaved repeats, medians (s)."""
    for fn in cells.values():  # warm-up
        fn()
    times = {name: [] for name in cells}
    for rep in range(repeats):
        names = list(cells)
        if rep % 2:
            names.reverse()
        for name in names:
            times[name].append(timed(cells[name]))
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--ref', default=OLD_REF)
    parser.add_argument('--out',
                        default=osp.join(REPO, 'benchmarks', 'results',
                                         'index_append.md'))
    args = parser.parse_args()
    Old, New = load_old_class(args.ref), new_module.BinaryIndex
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()

    rows = []  # (case, old s, new s)
    big = make_chunks(rng, 400_000, 10_000, extras=True)
    for total in (200_000, 400_000):
        chunks = big[:total // 10_000]
        for finish in ('none', 'arrays'):
            cells = {
                cls_name: (lambda c=cls, f=finish, ch=chunks:
                           run_index(c, 'exact', ch, f))
                for cls_name, cls in (('old', Old), ('new', New))
            }
            res = measure(cells, args.repeats)
            what = 'add loop' if finish == 'none' else \
                'add loop + first access of the arrays'
            rows.append((f'{total // 1000}k rows in 10k chunks, paths + '
                         f'labels, exact: {what}', res['old'], res['new']))
            print(rows[-1], flush=True)
    # Both give the same arrays.
    a, b = run_index(Old, 'exact', big, 'none'), run_index(
        New, 'exact', big, 'none')
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.ids, b.ids)
    assert np.array_equal(a.labels, b.labels)
    assert np.array_equal(a.paths, np.asarray(b.paths))
    del a, b, big

    small = make_chunks(rng, 400_000, 1_000, extras=False)
    faiss_rows = []  # (case, raw faiss, new, old)
    for finish in ('none', 'search'):
        cells = {
            'faiss': lambda f=finish: run_raw_faiss(small, f),
            'new': lambda f=finish: run_index(New, 'faiss', small, f),
            'old': lambda f=finish: run_index(Old, 'faiss', small, f),
        }
        res = measure(cells, args.repeats)
        what = 'add loop' if finish == 'none' else \
            'add loop + first 1-query 10-NN search'
        faiss_rows.append((f'400k rows in 1k chunks, bare packed codes, '
                           f'faiss: {what}', res['faiss'], res['new'],
                           res['old']))
        print(faiss_rows[-1], flush=True)
    del small

    paths = [image_path(i) for i in range(1_000_000)]
    old_bytes = np.asarray(paths).nbytes
    new_bytes = PackedStrings.from_strings(paths).nbytes
    mean_len = sum(map(len, paths)) / len(paths)
    load_after = os.getloadavg()

    lines = [
        '# BinaryIndex.add in chunks: old (concatenate on every add) vs new',
        '',
        f'Produced by `python benchmarks/index_append.py --repeats '
        f'{args.repeats}`; old = `binary_index.py` of commit '
        f'`{args.ref[:10]}`, new = this checkout. CPU: {cpu_name()} '
        f'({os.cpu_count()} cores visible, shared machine); load average '
        f'(1/5/15 min) {"/".join(f"{x:.2f}" for x in load_before)} before, '
        f'{"/".join(f"{x:.2f}" for x in load_after)} after. numpy '
        f'{np.__version__}, faiss {faiss.__version__}. Each cell: median '
        f'of {args.repeats} interleaved repeats after a warm-up; inputs '
        f'({BITS}-bit packed codes, {mean_len:.0f}-character paths, '
        f'{CLASSES}-class labels) built before timing.',
        '',
        '| case | old (s) | new (s) | old / new |',
        '|---|---:|---:|---:|',
    ]
    for case, old, new in rows:
        lines.append(f'| {case} | {old:.3f} | {new:.3f} | '
                     f'{old / new:.1f}x |')
    lines += [
        '',
        '| case | raw faiss (s) | new (s) | new / raw faiss | old (s) |',
        '|---|---:|---:|---:|---:|',
    ]
    for case, raw, new, old in faiss_rows:
        lines.append(f'| {case} | {raw:.4f} | {new:.4f} | '
                     f'{new / raw:.2f}x | {old:.3f} |')
    lines += [
        '',
        'The first search after the adds also joins the pending code and id '
        'chunks (one concatenation of the whole index, paid once; later '
        'searches do not repeat it); raw faiss has no ids or codes array to '
        'keep. The old class built its faiss index at the first search.',
        '',
        f'Paths of 1M rows ({mean_len:.0f} ASCII characters each): old '
        f'fixed-width unicode array {old_bytes / 1e6:.0f} MB, new UTF-8 '
        f'buffer + int64 offsets {new_bytes / 1e6:.0f} MB '
        f'({old_bytes / new_bytes:.1f}x smaller). The index file keeps '
        'format version 1: `save` writes the paths as the same unicode '
        'array as before.',
        '',
    ]
    with open(args.out, 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
