"""Memory and time of the all-triplet ranking loss: (N, N, N) vs O(N^2).

``triplet_ranking_loss`` used to build every triplet's hinge in an
(N, N, N) tensor (``tests/triplet_reference.py``, the
reference); it now sorts each anchor's negatives and reads each positive
pair's hinge sum off prefix sums. For N in 64..512 (8 GPUs x 64 is
N = 512 under ``gather_across_ranks``), q = 48 tanh codes, 10 classes:

* peak memory of one forward + backward: the peak RSS delta (the
  kernel's VmHWM, reset through ``/proc/self/clear_refs`` just before the
  call, minus the RSS then; inputs already built, Linux only) in a fresh
  subprocess per (implementation, N) with a fixed glibc mmap threshold,
  so no allocator cache or earlier peak is counted;
* time of forward + backward: the median of interleaved repeats (old,
  new, old, new, ...) after a warm-up, in this process;
* the two losses and gradients, checked equal (max relative difference).

Writes ``benchmarks/results/triplet_loss.{json,md}``.

N = 1024 and 2048 run with the new loss alone (``--new-only``): the old
one's cube would take ~14 and ~115 GB.

Usage:
    python benchmarks/triplet_loss_memory.py [--sizes 64 128 256 512]
        [--new-only 1024 2048] [--repeats 5] [--threads 1]
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.join(REPO, 'tests'))
from hashplugins.models.losses import triplet_ranking_loss  # noqa: E402
from bench_utils import cpu_name  # noqa: E402
from hashplugins.models.utils import label_similarity  # noqa: E402
from triplet_reference import \
    direct_triplet_ranking_loss as old_triplet_ranking_loss  # noqa: E402

BITS, CLASSES, MARGIN = 48, 10, 2.  # tanh codes: DNNH's m = 1 scaled by 2


IMPLS = {'old': old_triplet_ranking_loss, 'new': triplet_ranking_loss}


def make_inputs(num: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    codes = torch.tanh(2 * torch.randn(num, BITS, generator=gen))
    labels = torch.nn.functional.one_hot(
        torch.randint(0, CLASSES, (num,), generator=gen), CLASSES).float()
    return codes, labels


def step(impl: str, codes: torch.Tensor, labels: torch.Tensor):
    """One forward + backward; the loss and the codes' gradient."""
    codes = codes.detach().requires_grad_()
    loss = IMPLS[impl](codes, labels, MARGIN)
    loss.backward()
    return loss.detach(), codes.grad


def _status_kb(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise KeyError(field)


def worker(impl: str, num: int) -> dict:
    """Peak RSS delta of one step, in this (fresh) process: the kernel's
    high-water mark (VmHWM) is reset just before the step, so the imports'
    own peak does not hide it."""
    codes, labels = make_inputs(num)
    step(impl, *make_inputs(8, seed=1))  # first-call initialisation
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset VmHWM to the current RSS
    before_kb = _status_kb('VmRSS')
    start = time.perf_counter()
    step(impl, codes, labels)
    seconds = time.perf_counter() - start
    peak_kb = _status_kb('VmHWM')
    return dict(peak_rss_delta_mb=(peak_kb - before_kb) / 1024,
                peak_rss_mb=peak_kb / 1024, cold_seconds=seconds)


def run_worker(impl: str, num: int, threads: int) -> dict:
    # A fixed glibc mmap threshold: every allocation over 64 KiB is its own
    # mapping, returned when freed, so the RSS peak follows the live
    # tensors rather than what the allocator keeps cached (without it the
    # new loss's peak varied by 2x between runs).
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536')
    out = subprocess.run(
        [sys.executable, __file__, '--worker', impl, '--sizes', str(num),
         '--threads', str(threads)],
        check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def max_rel_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-30))


def measure(num: int, repeats: int, threads: int,
            impls=tuple(IMPLS)) -> dict:
    codes, labels = make_inputs(num)
    warm = {impl: step(impl, codes, labels) for impl in impls}
    times = {impl: [] for impl in impls}
    for _ in range(repeats):  # interleaved
        for impl in impls:
            start = time.perf_counter()
            step(impl, codes, labels)
            times[impl].append(time.perf_counter() - start)
    sim = label_similarity(labels).bool()
    result = dict(num=num,
                  triplets=int(((sim.sum(1) - 1) * (~sim).sum(1)).sum()))
    for impl in impls:
        result[impl] = dict(ms=1e3 * statistics.median(times[impl]),
                            times_ms=[1e3 * t for t in times[impl]],
                            **run_worker(impl, num, threads))
    if 'old' in impls:
        (old_loss, old_grad), (new_loss, new_grad) = warm['old'], warm['new']
        result.update(
            value_rel_diff=abs(float(new_loss / old_loss) - 1),
            grad_rel_diff=max_rel_diff(new_grad, old_grad),
            time_ratio=result['old']['ms'] / result['new']['ms'],
            memory_ratio=result['old']['peak_rss_delta_mb'] /
            max(result['new']['peak_rss_delta_mb'], 1e-3))
    return result


def render_markdown(report: dict) -> str:
    m = report['machine']
    lines = [
        '# Triplet ranking loss: (N, N, N) hinges vs O(N^2) sort and '
        'prefix sums', '',
        f'Machine: {m["cpu"]}, {m["cores"]} logical cores, '
        f'{m["memory_gib"]:.0f} GiB RAM, no GPU; torch {m["torch"]} with '
        f'{m["threads"]} thread(s). Load average at start / end: '
        f'{m["load_average"][0]:.2f} / {m["load_average"][1]:.2f} (other '
        'jobs share the cores: times are medians of '
        f'{m["repeats"]} interleaved repeats after a warm-up). '
        f'q = {BITS} tanh codes, {CLASSES} classes (single label), '
        f'margin {MARGIN:g}; forward + backward of the loss alone.', '',
        '| N | triplets | old ms | new ms | speedup | old peak MB | '
        'new peak MB | memory ratio | old B / N^3 | new B / N^2 | '
        'value / grad rel diff |',
        '|---|---|---|---|---|---|---|---|---|---|---|'
    ]
    # Extrapolate the old loss from its largest measured N (at small N
    # the constant overheads inflate bytes per N^3).
    largest = max((r for r in report['results'] if 'old' in r),
                  key=lambda r: r['num'])
    old_per_cube = (2**20 * largest['old']['peak_rss_delta_mb'] /
                    largest['num']**3)
    for r in report['results']:
        new = (f'{r["new"]["ms"]:.1f}', f'{r["new"]["peak_rss_delta_mb"]:.1f}',
               f'{2**20 * r["new"]["peak_rss_delta_mb"] / r["num"]**2:.0f}')
        if 'old' not in r:
            cube_gb = old_per_cube * r['num']**3 / 1e9
            lines.append(
                f'| {r["num"]} | {r["triplets"]:,} | not run | {new[0]} | - '
                f'| not run (~{cube_gb:.3g} GB at {old_per_cube:.1f} B / '
                f'N^3) | {new[1]} | - | - | {new[2]} | - |')
            continue
        lines.append(
            f'| {r["num"]} | {r["triplets"]:,} | {r["old"]["ms"]:.1f} | '
            f'{new[0]} | {r["time_ratio"]:.1f}x | '
            f'{r["old"]["peak_rss_delta_mb"]:.1f} | {new[1]} | '
            f'{r["memory_ratio"]:.0f}x | '
            f'{2**20 * r["old"]["peak_rss_delta_mb"] / r["num"]**3:.1f} | '
            f'{new[2]} | {r["value_rel_diff"]:.1e} / '
            f'{r["grad_rel_diff"]:.1e} |')
    lines += [
        '',
        'Peak MB: the peak RSS delta of one forward + backward (VmHWM, '
        'reset just before the call, minus the RSS then; inputs built and '
        'a tiny warm-up call made first) in a fresh subprocess per cell. '
        'RSS counts the pages touched, after the allocator; the workers '
        'run with `MALLOC_MMAP_THRESHOLD_=65536`, so freed tensors leave '
        'the RSS at once and the peak follows the live tensors (deltas '
        'under ~1 MB are at the granularity). B / N^3 and B / N^2: that '
        'peak in '
        'bytes over the cube and the square of N. The old loss holds the '
        '(N, N, N) hinges, their mask and the saved tensors of backward at '
        'once (a constant B / N^3: cubic); the new one a few (N, N) '
        'tensors and one (rows, N, q) block of '
        'code differences (max(N^2, 2^20) elements). '
        'Rel diff: |new/old - 1| of the loss, and the max abs gradient '
        'difference over the max abs gradient (float32).', '',
        'Generated by `python benchmarks/triplet_loss_memory.py`.', ''
    ]
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[64, 128, 256, 512])
    parser.add_argument('--new-only', type=int, nargs='*',
                        default=[1024, 2048],
                        help='sizes run with the new loss alone (the old '
                        "one's cube does not fit)")
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--worker', choices=list(IMPLS),
                        help=argparse.SUPPRESS)
    parser.add_argument('--out', default=osp.join(REPO, 'benchmarks',
                                                  'results', 'triplet_loss'))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(worker(args.worker, args.sizes[0])))
        return

    load_start = os.getloadavg()[0]
    results = []
    for num in args.sizes + args.new_only:
        impls = tuple(IMPLS) if num in args.sizes else ('new',)
        r = measure(num, args.repeats, args.threads, impls)
        results.append(r)
        print(f'N={num}: ' + '; '.join(
            f'{impl} {r[impl]["ms"]:.1f} ms, '
            f'{r[impl]["peak_rss_delta_mb"]:.1f} MB' for impl in impls) +
            (f'; rel diff {r["value_rel_diff"]:.1e}' if 'old' in r else ''),
            flush=True)
    machine = dict(
        cpu=cpu_name(), cores=os.cpu_count(), threads=args.threads,
        memory_gib=os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') /
        2**30, torch=torch.__version__, repeats=args.repeats,
        load_average=[load_start, os.getloadavg()[0]], cuda=False)
    report = dict(machine=machine, bits=BITS, classes=CLASSES,
                  margin=MARGIN, results=results)
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    for ext, text in (('json', json.dumps(report, indent=1)),
                      ('md', render_markdown(report))):
        tmp = f'{args.out}.{ext}.tmp'
        with open(tmp, 'w') as f:
            f.write(text)
        os.replace(tmp, f'{args.out}.{ext}')
    print(f'wrote {args.out}.{{json,md}}')


if __name__ == '__main__':
    main()
