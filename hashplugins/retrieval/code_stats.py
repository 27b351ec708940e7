"""Statistics of a set of binary codes: how well the bits are used.

* **bit balance**: the fraction of ``+1`` of each bit. A bit that is
  always the same carries nothing; 0.5 is ideal.
* **bit correlation**: the Pearson correlation of every pair of bits
  (``B x B``). Correlated bits duplicate information.
* **bucket occupancy**: how many rows share each distinct code (a hash
  bucket). Few, crowded buckets mean many exact ties and slow radius
  search; the entropy of the code distribution is at most
  ``min(B, log2 N)`` bits.

Everything works on packed codes in blocks of rows (memory bounded by the
block); :func:`plot_code_stats` draws the three as one matplotlib figure.
"""
from typing import Optional

import numpy as np

from hashplugins.evaluation.functional.codes import check_packed


def _bits(packed: np.ndarray, num_bits: int) -> np.ndarray:
    return np.unpackbits(packed, axis=1, count=num_bits)


def bit_balance(packed: np.ndarray, num_bits: int,
                block: int = 1 << 16) -> np.ndarray:
    """``(B,)`` fraction of ``+1`` of each bit."""
    packed = check_packed(packed, num_bits)
    ones = np.zeros(num_bits, dtype=np.int64)
    for a in range(0, len(packed), block):
        bits = _bits(packed[a:a + block], num_bits)
        ones += bits.sum(axis=0, dtype=np.int64)
    return ones / max(len(packed), 1)


def bit_correlation(packed: np.ndarray, num_bits: int,
                    block: int = 1 << 16) -> np.ndarray:
    """``(B, B)`` Pearson correlation between bits (``nan`` for a
    constant bit)."""
    packed = check_packed(packed, num_bits)
    n = len(packed)
    gram = np.zeros((num_bits, num_bits), dtype=np.float64)
    total = np.zeros(num_bits, dtype=np.float64)
    for a in range(0, n, block):
        x = _bits(packed[a:a + block], num_bits).astype(np.float64) * 2 - 1
        gram += x.T @ x
        total += x.sum(axis=0)
    mean = total / max(n, 1)
    cov = gram / max(n, 1) - np.outer(mean, mean)
    std = np.sqrt(np.clip(np.diag(cov), 0, None))
    with np.errstate(invalid='ignore', divide='ignore'):
        return cov / np.outer(std, std)


def bucket_sizes(packed: np.ndarray) -> np.ndarray:
    """Number of rows of each distinct code (unordered)."""
    packed = np.ascontiguousarray(packed)
    rows = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, counts = np.unique(rows, return_counts=True)
    return counts


def code_stats(packed: np.ndarray, num_bits: int) -> dict:
    """All statistics as a JSON-able dict (per-bit arrays as lists)."""
    packed = check_packed(packed, num_bits)
    n = len(packed)
    balance = bit_balance(packed, num_bits)
    corr = bit_correlation(packed, num_bits)
    off = corr[~np.eye(num_bits, dtype=bool)] if num_bits > 1 \
        else np.zeros(0)
    off = off[np.isfinite(off)]
    sizes = bucket_sizes(packed)
    p = sizes / max(n, 1)
    entropy = float(-(p * np.log2(p)).sum()) if n else 0.0
    size_hist = np.bincount(
        np.floor(np.log2(sizes)).astype(np.int64)) if n else np.zeros(0)
    return dict(
        num_codes=int(n),
        num_bits=int(num_bits),
        bit_balance=dict(
            fraction_plus_one=balance.tolist(),
            mean_abs_imbalance=float(np.abs(2 * balance - 1).mean()),
            max_abs_imbalance=float(np.abs(2 * balance - 1).max()),
            constant_bits=int(((balance == 0) | (balance == 1)).sum())),
        bit_correlation=dict(
            matrix=np.where(np.isfinite(corr), corr, 0).round(6).tolist(),
            mean_abs_off_diagonal=float(np.abs(off).mean())
            if off.size else 0.0,
            max_abs_off_diagonal=float(np.abs(off).max())
            if off.size else 0.0),
        buckets=dict(
            num_buckets=int(len(sizes)),
            largest=int(sizes.max()) if n else 0,
            mean_rows_per_bucket=float(n / max(len(sizes), 1)),
            rows_in_singletons=int((sizes == 1).sum()),
            entropy_bits=entropy,
            max_entropy_bits=float(min(num_bits, np.log2(n))) if n else 0.0,
            # buckets holding 2**i .. 2**(i+1)-1 rows, i = 0, 1, ...
            size_histogram_log2=size_hist.tolist()))


def plot_code_stats(stats: dict, path: str,
                    title: Optional[str] = None) -> str:
    """Draw bit balance, the correlation matrix and the bucket-size
    histogram from :func:`code_stats` into one PNG (written atomically);
    returns ``path``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from hashplugins.evaluation.functional.io import atomic_output
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    balance = np.asarray(stats['bit_balance']['fraction_plus_one'])
    axes[0].bar(np.arange(len(balance)), balance, color='tab:blue')
    axes[0].axhline(0.5, color='k', lw=1, ls='--')
    axes[0].set(ylim=(0, 1), xlabel='bit', ylabel='fraction of +1',
                title='bit balance (0.5 ideal)')
    corr = np.asarray(stats['bit_correlation']['matrix'])
    im = axes[1].imshow(corr, cmap='RdBu_r', vmin=-1, vmax=1)
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    mean_corr = stats['bit_correlation']['mean_abs_off_diagonal']
    axes[1].set(xlabel='bit', ylabel='bit',
                title=f'bit correlation\nmean |off-diagonal| {mean_corr:.3f}')
    hist = stats['buckets']['size_histogram_log2']
    axes[2].bar(np.arange(len(hist)), hist, color='tab:orange')
    axes[2].set_yscale('log' if hist and max(hist) > 0 else 'linear')
    axes[2].set(xticks=np.arange(len(hist)),
                xticklabels=[f'{2**i}-{2**(i + 1) - 1}'
                             for i in range(len(hist))],
                xlabel='rows per bucket', ylabel='buckets',
                title=f'bucket occupancy: {stats["buckets"]["num_buckets"]}'
                f' buckets\nentropy {stats["buckets"]["entropy_bits"]:.1f}'
                f' / {stats["buckets"]["max_entropy_bits"]:.1f} bits')
    plt.setp(axes[2].get_xticklabels(), rotation=45, ha='right')
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format='png', dpi=100)
    plt.close(fig)
    return path
