"""One pass over the queries, block by block, shared by every metric.

:func:`run_pass` validates the inputs, picks a backend (numpy on the CPU,
torch on the codes' device), and feeds each block's
:class:`~.stats.BlockStats` to every :class:`~.stats.Request`.
"""
from typing import List, Optional, Sequence

from .codes import ArrayLike, is_tensor
from .numpy_backend import numpy_block_stats
from .relevance import prepare_labels
from .stats import Request

BACKENDS = ('auto', 'numpy', 'torch')


def _check_inputs(query_codes, db_codes, query_labels, db_labels):
    for name, codes in (('query codes', query_codes), ('database codes',
                                                       db_codes)):
        if len(codes.shape) != 2:
            raise ValueError(f'{name} must be 2-D (n, bits); got shape '
                             f'{tuple(codes.shape)}')
        if codes.shape[0] == 0:
            raise ValueError(f'{name} are empty')
    if query_codes.shape[1] != db_codes.shape[1]:
        raise ValueError(f'query codes have {query_codes.shape[1]} bits but '
                         f'database codes have {db_codes.shape[1]}')
    for name, codes, labels in (('query', query_codes, query_labels),
                                ('database', db_codes, db_labels)):
        if len(labels) != codes.shape[0]:
            raise ValueError(f'{len(labels)} {name} labels for '
                             f'{codes.shape[0]} {name} codes')


def choose_backend(backend: str,
                   query_codes,
                   db_codes,
                   device: Optional[str] = None) -> str:
    """The backend :func:`run_pass` uses: ``'numpy'`` or ``'torch'``.

    ``'auto'`` picks torch only where the work is on an accelerator (an
    explicit non-CPU ``device``, or codes held there) and numpy on the CPU,
    where it is the faster of the two (``benchmarks/results/
    torch_backend.md``); an explicit ``device='cpu'`` means the CPU even
    for accelerator tensors. A non-CPU ``device`` makes it torch whatever
    ``backend`` says (numpy cannot run there).
    """
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {BACKENDS}; got '
                         f'{backend!r}')
    if device is not None:
        if str(device).split(':')[0] != 'cpu':
            return 'torch'
        return 'torch' if backend == 'torch' else 'numpy'
    if backend != 'auto':
        return backend
    on_device = any(
        is_tensor(c) and c.device.type != 'cpu'
        for c in (query_codes, db_codes))
    return 'torch' if on_device else 'numpy'


def run_pass(query_codes: ArrayLike,
             db_codes: ArrayLike,
             query_labels: ArrayLike,
             db_labels: ArrayLike,
             requests: Sequence[Request],
             backend: str = 'auto',
             block_size: Optional[int] = None,
             max_candidates: int = 1 << 21,
             device: Optional[str] = None) -> List[dict]:
    """Feed every block of queries to every request; return their results.

    Args:
        query_codes: ``(Q, B)`` ±1 codes (numpy or torch).
        db_codes: ``(N, B)`` ±1 codes.
        query_labels: ``(Q,)`` class ids or ``(Q, C)`` 0/1 matrix.
        db_labels: ``(N,)`` class ids or ``(N, C)`` 0/1 matrix.
        requests: The metrics to compute.
        backend: ``'numpy'`` (CPU), ``'torch'`` (the codes' device, CPU
            included) or ``'auto'`` (torch for tensors on an accelerator,
            numpy otherwise; :func:`choose_backend`).
        block_size: Queries per block; default keeps the distance block
            near 32 MB (numpy) or a block's working memory near 256 MB
            on the CPU and 1 GB on accelerators (torch).
        max_candidates: Ranked-prefix items handled at once (numpy).
        device: A torch device (e.g. ``'cuda'``) to compute on with the
            torch backend, moving the codes there; ``None`` or ``'cpu'``
            leaves the choice to ``backend``.

    Returns:
        One dict per request, in order.
    """
    chosen = choose_backend(backend, query_codes, db_codes, device)
    _check_inputs(query_codes, db_codes, query_labels, db_labels)
    labels = prepare_labels(query_labels, db_labels)
    if chosen == 'torch':
        # Imported here so that numpy-only use never needs torch.
        from .torch_backend import torch_block_stats
        blocks = torch_block_stats(query_codes, db_codes, labels, requests,
                                   block_size, device)
    else:
        blocks = numpy_block_stats(query_codes, db_codes, labels, requests,
                                   block_size, max_candidates)
    for stats in blocks:
        for request in requests:
            request.update(stats)
    return [request.result() for request in requests]


def run_request(request: Request,
                query_codes: ArrayLike,
                db_codes: ArrayLike,
                query_labels: ArrayLike,
                db_labels: ArrayLike,
                backend: str = 'auto') -> dict:
    """:func:`run_pass` with a single request; returns its result."""
    return run_pass(
        query_codes,
        db_codes,
        query_labels,
        db_labels, [request],
        backend=backend)[0]
