"""Binary codes: validation, binarization and bit packing.

A code of ``B`` bits is held three ways in this package:

* **±1 array** ``(n, B)`` (numpy or torch), the public input format.
  Float codes are binarized with ``>= 0``, so ``sign(0)`` maps to ``+1``
  (the network's ``tanh`` output can be passed as is). Integer codes must
  already be ``-1``/``+1``; bool codes mean ``True = +1``.
* **packed bytes** ``(n, ceil(B / 8))`` ``uint8``: bit ``i`` of the code is
  bit ``7 - i % 8`` of byte ``i // 8`` (``np.packbits`` order), ``+1 -> 1``,
  unused trailing bits are 0. This is what the metric collects and what
  the codes file stores.
* **words** ``(W, n)`` ``uint64``: the packed bytes zero-padded to a
  multiple of 8 bytes and viewed as 64-bit words, one contiguous row per
  word so that Hamming distances are one XOR and one popcount per word.

Per-sample values of a batch (the ``hash_code`` and ``gt_label`` of model
outputs) are moved to the host once per batch (:func:`batch_to_host`,
:func:`binarize_batch`): on a GPU each host read waits for the device.
"""
from typing import List, Sequence, Union

import numpy as np

try:  # torch is optional for this module: numpy inputs never need it
    import torch
except ImportError:  # pragma: no cover
    torch = None

ArrayLike = Union[np.ndarray, 'torch.Tensor']


def is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor (False when torch is absent)."""
    return torch is not None and isinstance(x, torch.Tensor)


def binarize(codes: ArrayLike, name: str = 'codes') -> ArrayLike:
    """Turn codes into a bool array, ``True`` where the bit is ``+1``.

    Args:
        codes: ``(n, B)`` codes. Floats are binarized with ``>= 0``
            (``sign(0) -> +1``); NaN is an error. Integers must be ``-1`` or
            ``+1``: a ``0`` is refused because ``0/1`` bits would silently
            become all ``+1``. Bools are taken as bits (``True = +1``).
        name: Name used in error messages.

    Returns:
        ``(n, B)`` bool array of the same kind (numpy or torch, same
        device) as the input.
    """
    if codes.ndim != 2:
        raise ValueError(f'{name} must be 2-D (n, bits); got shape '
                         f'{tuple(codes.shape)}')
    if codes.shape[1] < 1:
        raise ValueError(f'{name} must have at least one bit')
    if is_tensor(codes):
        if codes.dtype == torch.bool:
            return codes
        if codes.is_floating_point():
            if torch.isnan(codes).any():
                raise ValueError(f'{name} contains NaN')
            return codes >= 0
        bad = (codes != 1) & (codes != -1)
    else:
        codes = np.asarray(codes)
        if codes.dtype == np.bool_:
            return codes
        if np.issubdtype(codes.dtype, np.floating):
            if np.isnan(codes).any():
                raise ValueError(f'{name} contains NaN')
            return codes >= 0
        if not np.issubdtype(codes.dtype, np.integer):
            raise TypeError(f'{name} must be float, integer or bool; got '
                            f'{codes.dtype}')
        bad = (codes != 1) & (codes != -1)
    if bad.any():
        raise ValueError(
            f'integer {name} must hold only -1 and +1; found other values '
            '(0/1 bits? pass them as a bool array or as 2 * bits - 1)')
    return codes > 0


def to_host(value) -> np.ndarray:
    """A tensor (any device; detached), array or list as a numpy array.

    Args:
        value: Tensor, numpy array, list or scalar.

    Returns:
        The values as a numpy array (one device read for a tensor; a CPU
        tensor's array shares its memory).
    """
    if is_tensor(value):
        if value.dtype == torch.bfloat16:  # numpy has no bfloat16
            value = value.float()
        return value.numpy(force=True)
    return np.asarray(value)


def batch_to_host(values: Sequence, dtype=None) -> List[np.ndarray]:
    """Per-sample values of a batch as flat host arrays, one device read.

    When all values are tensors on one device (of one dtype, or cast to
    ``dtype`` there), they are flattened, concatenated where they are, read
    to the host once and split back at their sizes (known without reading
    the device), so they may have different lengths (multi-label
    ``gt_label``). Anything else (arrays, lists, mixed devices or dtypes) is
    converted value by value.

    Args:
        values: Per-sample tensors, arrays or lists; ``None`` entries (a
            sample without labels) stay ``None``.
        dtype: Numpy dtype of the results (tensors are cast on their
            device); ``None`` keeps the values' own.

    Returns:
        One 1-D numpy array (or ``None``) per value, in order.
    """
    values = list(values)
    if any(v is None for v in values):
        host = iter(batch_to_host([v for v in values if v is not None],
                                  dtype))
        return [None if v is None else next(host) for v in values]
    tensors = bool(values) and all(is_tensor(v) for v in values)
    # Across devices concatenating fails; across dtypes it promotes them.
    if not tensors or len({v.device for v in values}) > 1 or (
            dtype is None and len({v.dtype for v in values}) > 1):
        out = [to_host(v).reshape(-1) for v in values]
        return out if dtype is None else [a.astype(dtype) for a in out]
    flat = [v.detach().reshape(-1) for v in values]
    if dtype is not None:
        to = torch.from_numpy(np.empty(0, dtype)).dtype  # numpy -> torch
        flat = [v.to(to) for v in flat]
    host = to_host(torch.cat(flat))
    return np.split(host, np.cumsum([v.numel() for v in flat])[:-1])


def binarize_batch(codes: Sequence, name: str = 'codes') -> np.ndarray:
    """The per-sample codes of a batch as host bits, one device read.

    Args:
        codes: ``n`` per-sample codes of ``B`` values each (tensors on any
            device, arrays or lists), as :func:`binarize` takes them.
        name: Name used in error messages.

    Returns:
        ``(n, B)`` bool numpy array, ``True`` where the bit is ``+1``
        (``sign(0) -> +1``).
    """
    # Read the values and binarize on the host: a NaN check on the device
    # would cost a second read.
    rows = batch_to_host(codes)
    lengths = sorted({len(r) for r in rows})
    if len(lengths) > 1:
        raise ValueError(f'{name} of one batch have different lengths '
                         f'{lengths}')
    return binarize(np.stack(rows), name)


def pack_codes(codes: ArrayLike) -> np.ndarray:
    """Pack ±1 codes into bytes, 1 bit per code bit.

    Args:
        codes: ``(n, B)`` ±1 (or float, or bool) codes, numpy or torch.

    Returns:
        ``(n, ceil(B / 8))`` ``uint8`` numpy array (``np.packbits`` order,
        ``+1 -> 1``, trailing pad bits 0).
    """
    bits = binarize(codes)
    if is_tensor(bits):
        bits = bits.cpu().numpy()
    return np.packbits(bits, axis=1)


def unpack_codes(packed: np.ndarray, num_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`.

    Args:
        packed: ``(n, ceil(num_bits / 8))`` ``uint8`` array.
        num_bits: Code length ``B``.

    Returns:
        ``(n, num_bits)`` ``int8`` array of ``-1``/``+1``.
    """
    packed = check_packed(packed, num_bits)
    bits = np.unpackbits(packed, axis=1, count=num_bits)
    return (bits.astype(np.int8) << 1) - 1


def check_packed(packed: np.ndarray,
                 num_bits: int,
                 name: str = 'packed codes') -> np.ndarray:
    """Validate a packed code array and return it as contiguous ``uint8``.

    Args:
        packed: Candidate ``(n, ceil(num_bits / 8))`` ``uint8`` array.
        num_bits: Code length ``B`` (positive).
        name: Name used in error messages.

    Returns:
        The array, C-contiguous.
    """
    if int(num_bits) != num_bits or num_bits < 1:
        raise ValueError(f'num_bits must be a positive integer; got '
                         f'{num_bits!r}')
    packed = np.asarray(packed)
    width = (int(num_bits) + 7) // 8
    if packed.dtype != np.uint8 or packed.ndim != 2 \
            or packed.shape[1] != width:
        raise ValueError(
            f'{name} must be a (n, {width}) uint8 array for {num_bits} bits;'
            f' got {packed.dtype} of shape {packed.shape}')
    pad = width * 8 - int(num_bits)
    if pad and (packed[:, -1] & np.uint8((1 << pad) - 1)).any():
        raise ValueError(f'{name} have non-zero padding bits beyond bit '
                         f'{num_bits}: they were not packed by pack_codes '
                         'or num_bits is wrong')
    return np.ascontiguousarray(packed)


def packed_to_words(packed: np.ndarray) -> np.ndarray:
    """View packed codes as 64-bit words for popcount distances.

    Zero padding bytes do not change Hamming distances (``0 xor 0 = 0``).

    Args:
        packed: ``(n, nbytes)`` ``uint8`` array.

    Returns:
        ``(W, n)`` C-contiguous ``uint64`` array, ``W = ceil(nbytes / 8)``;
        row ``w`` holds word ``w`` of every code, so a query is compared
        with the whole database by one vector operation per word.
    """
    n, nbytes = packed.shape
    num_words = (nbytes + 7) // 8
    padded = np.zeros((n, num_words * 8), dtype=np.uint8)
    padded[:, :nbytes] = packed
    return np.ascontiguousarray(padded.view(np.uint64).T)
