"""Retrieval benchmark: BinaryIndex vs raw faiss calls, and encode speed.

In one run:

* search: 1,000,000 random 64-bit codes (seeded), 1,000 queries; top-100
  k-NN and radius-2 search; uniform codes (radius-2 balls nearly empty)
  and clustered codes (a few hundred hits per ball). Our
  :class:`BinaryIndex` (``backend='faiss'`` and ``backend='exact'``, the
  evaluation engine) against the raw faiss
  calls it wraps (``IndexBinaryFlat.search``,
  ``IndexBinaryMultiHash.range_search`` with ``nflip=0``,
  ``IndexBinaryHash(64, 16).range_search`` with ``nflip=2``,
  ``IndexBinaryFlat.range_search``). Timings are interleaved (the order
  rotates every repeat) and repeated; ratios are of medians measured in
  this run. Results are checked equal (k-NN lists, radius sets).
* encode: images/s of :class:`HashEncoder` (test pipeline + forward +
  binarize + packing, from in-memory uint8 arrays, image decoding
  excluded) for LeNet-5 (DPSH MNIST config, 32 px gray) and ResNet-50
  (DPSH CIFAR-10 224 px config), untrained weights, same thread count.

Writes benchmarks/results/retrieval.{json,md}.

    nice -n 5 python benchmarks/retrieval_benchmark.py [--threads 1]
        [--device cpu] [--repeats 5] [--quick]
"""
import argparse
import json
import os
import os.path as osp
import platform
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402
from bench_utils import cpu_name  # noqa: E402


def machine_info(threads: int, device: str) -> dict:
    import faiss
    import torch
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() \
        else 'none in this session (CPU only; --device cuda where one is)'
    return dict(cpu=cpu_name(), logical_cores=os.cpu_count(),
                threads_used=threads, device=device, gpu=gpu,
                python=platform.python_version(), numpy=np.__version__,
                torch=torch.__version__, faiss=faiss.__version__,
                load_average_start=os.getloadavg())


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def interleaved(candidates: dict, repeats: int) -> dict:
    """Median / min seconds per candidate; order rotates every repeat."""
    names = list(candidates)
    times = {n: [] for n in names}
    for r in range(repeats):
        for n in names[r % len(names):] + names[:r % len(names)]:
            times[n].append(timed(candidates[n])[0])
    return {n: dict(median_s=float(np.median(t)), min_s=float(np.min(t)),
                    all_s=[round(x, 4) for x in t])
            for n, t in times.items()}


def uniform_codes(args):
    """Uniformly random codes: radius-2 balls are almost always empty."""
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (args.num_db, 8), dtype=np.uint8),
            rng.integers(0, 256, (args.num_queries, 8), dtype=np.uint8))


def clustered_codes(args, num_centers=2000, flip=0.01):
    """Codes around random centres (each bit flipped with probability
    ``flip``), queries around the same centres: a few hundred hits per
    radius-2 ball, as with a trained model's codes."""
    rng = np.random.default_rng(1)
    centers = rng.integers(0, 2, (num_centers, 64), dtype=np.uint8)

    def around(n):
        bits = centers[rng.integers(0, num_centers, n)]
        return np.packbits(bits ^ (rng.random((n, 64)) < flip), axis=1)

    return around(args.num_db), around(args.num_queries)


def search_bench(args, db, queries) -> dict:
    import faiss

    from hashplugins.retrieval import BinaryIndex
    k, radius = 100, 2
    build = {}
    t, flat = timed(lambda: _faiss_flat(faiss, db))
    build['raw IndexBinaryFlat'] = t
    t, mih = timed(lambda: _faiss_mih(faiss, db))
    build['raw IndexBinaryMultiHash(64, 4, 16)'] = t
    t, table = timed(lambda: _faiss_hash(faiss, db, radius))
    build['raw IndexBinaryHash(64, 16)'] = t
    ours = BinaryIndex(64, backend='faiss')
    ours.add(db)
    ours_flat = BinaryIndex(64, backend='faiss', range_index='flat')
    ours_flat.add(db)
    ours_hash = BinaryIndex(64, backend='faiss', range_index='hash')
    ours_hash.add(db)
    exact = BinaryIndex(64, backend='exact')
    exact.add(db)
    # First calls build the lazy faiss indexes / word layout: timed apart.
    build['ours faiss (flat, first search)'] = timed(
        lambda: ours.search(queries[:1], k))[0]
    build['ours faiss (multihash, first range search)'] = timed(
        lambda: ours.range_search(queries[:1], radius))[0]
    ours_flat.range_search(queries[:1], radius)
    build['ours faiss (hash, first range search)'] = timed(
        lambda: ours_hash.range_search(queries[:1], radius))[0]
    exact.search(queries[:1], k)

    # Correctness in this run: same lists / sets as raw faiss.
    raw_d, raw_i = flat.search(queries, k)
    for index in (ours, exact):
        res = index.search(queries, k)
        assert (res.ids == raw_i).all() and (res.distances == raw_d).all()
    lims, _, ids = mih.range_search(queries, radius + 1)
    hash_lims, _, hash_ids = table.range_search(queries, radius + 1)
    assert (hash_lims == lims).all()
    for index in (ours, ours_flat, ours_hash, exact):
        res = index.range_search(queries, radius)
        assert (res.lims == lims).all()
        for i in range(len(queries)):
            assert set(res.ids[res.lims[i]:res.lims[i + 1]]) == set(
                ids[lims[i]:lims[i + 1]]) == set(
                    hash_ids[lims[i]:lims[i + 1]])
    hits = int(lims[-1])

    knn = interleaved({
        'raw faiss IndexBinaryFlat.search': lambda: flat.search(queries, k),
        'BinaryIndex faiss': lambda: ours.search(queries, k),
        'BinaryIndex exact (evaluation engine)':
        lambda: exact.search(queries, k),
    }, args.repeats)
    rad = interleaved({
        'raw faiss IndexBinaryMultiHash.range_search':
        lambda: mih.range_search(queries, radius + 1),
        'raw faiss IndexBinaryHash.range_search':
        lambda: table.range_search(queries, radius + 1),
        'raw faiss IndexBinaryFlat.range_search':
        lambda: flat.range_search(queries, radius + 1),
        'BinaryIndex faiss (multihash)':
        lambda: ours.range_search(queries, radius),
        'BinaryIndex faiss (hash)':
        lambda: ours_hash.range_search(queries, radius),
        'BinaryIndex faiss (flat)':
        lambda: ours_flat.range_search(queries, radius),
        'BinaryIndex exact (evaluation engine)':
        lambda: exact.range_search(queries, radius),
    }, args.repeats)
    base_knn = knn['raw faiss IndexBinaryFlat.search']['median_s']
    base_rad = rad['raw faiss IndexBinaryMultiHash.range_search']['median_s']
    base_rad_flat = rad['raw faiss IndexBinaryFlat.range_search']['median_s']
    base_rad_hash = rad['raw faiss IndexBinaryHash.range_search']['median_s']
    for name, row in knn.items():
        row['ratio_vs_raw_faiss'] = row['median_s'] / base_knn
    for name, row in rad.items():
        row['ratio_vs_raw_multihash'] = row['median_s'] / base_rad
        row['ratio_vs_raw_flat'] = row['median_s'] / base_rad_flat
        row['ratio_vs_raw_hash'] = row['median_s'] / base_rad_hash
    return dict(num_db=args.num_db, num_queries=args.num_queries, bits=64,
                k=k, radius=radius, radius_hits_total=hits,
                build_s=build, knn=knn, radius_search=rad,
                results_equal=True)


def _faiss_flat(faiss, db):
    index = faiss.IndexBinaryFlat(64)
    index.add(db)
    return index


def _faiss_hash(faiss, db, radius):
    index = faiss.IndexBinaryHash(64, 16)
    index.add(db)
    index.nflip = radius  # exact: the 16 key bits differ in <= radius
    return index


def _faiss_mih(faiss, db):
    index = faiss.IndexBinaryMultiHash(64, 4, 16)
    index.add(db)
    index.nflip = 0  # exact for radius <= 3 (pigeonhole over 4 tables)
    return index


def encode_bench(args) -> dict:
    import torch

    from hashplugins.apis import HashEncoder
    out = {}
    cases = [
        ('LeNet-5 (DPSH MNIST, 32 px gray)',
         'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py', (28, 28),
         args.small_images, 64),
        ('ResNet-50 (DPSH CIFAR-10, 224 px)',
         'configs/dpsh/dpsh_r50_cifar10_48bit.py', (32, 32, 3),
         args.r50_images, 16),
    ]
    for name, config, shape, num, batch in cases:
        torch.manual_seed(0)
        encoder = HashEncoder(osp.join(ROOT, config), device=args.device)
        rng = np.random.default_rng(0)
        images = [rng.integers(0, 256, shape, dtype=np.uint8)
                  for _ in range(num)]
        encoder(images[:batch], batch_size=batch, progress=False)  # warm
        times = []
        for _ in range(args.encode_repeats):
            times.append(timed(lambda: encoder(
                images, batch_size=batch, progress=False))[0])
        best = float(np.median(times))
        out[name] = dict(config=config, input_shape=list(shape),
                         images=num, batch_size=batch,
                         median_s=best, images_per_s=num / best,
                         all_s=[round(t, 3) for t in times])
        print(name, out[name], flush=True)
    return out


def _search_md(name: str, s: dict, repeats: int) -> list:
    lines = [
        f'## {name} codes', '',
        f'{s["num_db"]:,} 64-bit codes, {s["num_queries"]:,} queries, '
        f'top-{s["k"]} and radius-{s["radius"]} search; radius hits in '
        f'total: {s["radius_hits_total"]:,}. Medians of {repeats} '
        'interleaved repeats; ratios are of medians from this run. Results '
        'were checked equal to raw faiss in the same run (k-NN ids and '
        'distances, radius sets).', '',
        '| k-NN (top-100) | median s | min s | ratio vs raw faiss |',
        '|---|---|---|---|']
    for key, row in s['knn'].items():
        lines.append(f'| {key} | {row["median_s"]:.3f} | '
                     f'{row["min_s"]:.3f} | '
                     f'**{row["ratio_vs_raw_faiss"]:.2f}x** |')
    lines += ['', '| radius search (d <= 2) | median s | min s | ratio vs '
              'raw multihash | ratio vs raw hash | ratio vs raw flat |',
              '|---|---|---|---|---|---|']
    for key, row in s['radius_search'].items():
        lines.append(f'| {key} | {row["median_s"]:.4f} | '
                     f'{row["min_s"]:.4f} | '
                     f'**{row["ratio_vs_raw_multihash"]:.2f}x** | '
                     f'{row["ratio_vs_raw_hash"]:.2f}x | '
                     f'{row["ratio_vs_raw_flat"]:.2f}x |')
    lines += ['', 'Build / first-call times (s): ' + ', '.join(
        f'{k} {v:.3f}' for k, v in s['build_s'].items()) + '.', '']
    return lines


def write_md(report: dict, path: str) -> None:
    m = report['machine']
    lines = [
        '# Retrieval benchmark', '',
        '`benchmarks/retrieval_benchmark.py`, one run. Machine: '
        f'{m["cpu"]}, {m["logical_cores"]} logical cores shared with other '
        f'jobs, {m["threads_used"]} thread(s) for faiss and torch; device '
        f'{m["device"]}; GPU: {m["gpu"]}. Load average '
        f'{m["load_average_start"][0]:.2f} at start, '
        f'{m["load_average_end"][0]:.2f} at end (timings are noisy; the '
        'ratios come from interleaved runs). numpy '
        f'{m["numpy"]}, torch {m["torch"]}, faiss {m["faiss"]}.', '']
    for name, s in report['search'].items():
        lines += _search_md(name.capitalize() + ' random', s,
                            report['repeats'])
    lines += ['## Encode throughput', '',
              '| model | input | batch | images | images/s |',
              '|---|---|---|---|---|']
    for name, row in report['encode'].items():
        lines.append(f'| {name} | {row["input_shape"]} uint8 array | '
                     f'{row["batch_size"]} | {row["images"]} | '
                     f'{row["images_per_s"]:.1f} |')
    lines += ['', report['notes']]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


NOTES = (
    'Notes. `BinaryIndex(backend="faiss")` calls the same faiss indexes; '
    'its extra cost is mapping positions to ids and, for radius search, '
    'one sort of the hits into (query, distance, position) order (a packed '
    'int64 key; an earlier np.lexsort made our clustered radius search '
    '1.88x raw faiss). '
    '`backend="exact"` is the evaluation engine (numpy XOR + popcount '
    'into a uint8 block, counting-sort ranking), a linear scan: on k-NN it stays a small factor from '
    'faiss\'s C++ scan (see the tables), and on radius search it cannot '
    'approach the hash indexes, which look up only the buckets near each '
    'query (uniform codes: radius-2 balls are almost empty). It is the '
    'reference '
    'the faiss backend is tested against and the fallback without faiss; '
    '`backend="auto"` (the default) uses faiss when it is installed. '
    '`range_index="hash"` (one `IndexBinaryHash` table of 16 key bits, '
    'nflip = radius) wins where multi-hash tables hold long buckets '
    '(clustered codes, as a trained model gives) and loses on uniform '
    'codes, where multi-hash looks up 4 tiny buckets per query and the '
    'single table enumerates 137; both are exact. Our overhead over the '
    'raw call is the same hit sort for both (about 0.03 s for 434k hits '
    'here), so it is a larger ratio on the faster raw index. '
    'Encode throughput includes the test pipeline (resize for ResNet-50) '
    'and excludes image decoding; no GPU was available, so GPU numbers '
    'are not reported (run with --device cuda where one is).')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--num-db', type=int, default=1_000_000)
    parser.add_argument('--num-queries', type=int, default=1000)
    parser.add_argument('--small-images', type=int, default=512)
    parser.add_argument('--r50-images', type=int, default=32)
    parser.add_argument('--encode-repeats', type=int, default=3)
    parser.add_argument('--quick', action='store_true',
                        help='tiny sizes, to check the script runs')
    parser.add_argument(
        '--out', default=osp.join(ROOT, 'benchmarks', 'results',
                                  'retrieval'))
    args = parser.parse_args()
    if args.quick:
        args.num_db, args.num_queries, args.repeats = 20000, 50, 2
        args.small_images, args.r50_images, args.encode_repeats = 32, 4, 1
    import faiss
    import torch
    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    report = dict(machine=machine_info(args.threads, args.device),
                  repeats=args.repeats)
    report['search'] = {}
    for name, make in (('uniform', uniform_codes),
                       ('clustered', clustered_codes)):
        report['search'][name] = search_bench(args, *make(args))
        print(name, json.dumps(report['search'][name], indent=1),
              flush=True)
    report['encode'] = encode_bench(args)
    report['machine']['load_average_end'] = os.getloadavg()
    report['notes'] = NOTES
    if args.quick:
        print(json.dumps(report, indent=1))
        return
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out + '.json', 'w') as f:
        json.dump(report, f, indent=1)
    write_md(report, args.out + '.md')
    print(open(args.out + '.md').read())


if __name__ == '__main__':
    main()
