"""``hash_collate``: mmengine's ``pseudo_collate`` made cheap to ship
from dataloader workers.

With ``pseudo_collate`` a batch of N packed samples is N image tensors plus
N ``DataSample`` objects, each holding its own ``gt_label`` and
``gt_score`` tensors: 3N tensors (192 for a batch of 64). A worker hands
every tensor to the main process through its own shared-memory segment
(one file descriptor sent over a socket and mapped per tensor), which on
a small CPU machine costs more than decoding the images: the project's
CIFAR-10 loader got *slower* with workers. ``hash_collate`` returns the
same batch with

- ``inputs`` stacked into one ``(N, C, H, W)`` tensor (allocated in shared
  memory inside a worker, as torch's ``default_collate`` does), when all
  inputs are tensors of one shape and dtype; otherwise the list, as
  ``pseudo_collate`` gives it;
- ``data_samples`` a :class:`CollatedSamples` list, which pickles the
  samples' small tensors as numpy arrays inside the one pickle (no shared
  memory per tensor) and rebuilds equal ``DataSample`` objects on arrival.

mmpretrain's ``ClsDataPreprocessor`` (every config's preprocessor here)
takes a stacked tensor and computes the same values for it as for the
list (flip, ``float()``, ``(x - mean) / std`` elementwise; padding only
matters for images of different sizes, which are never stacked);
``tests/test_datasets/test_collate.py`` checks this equality.
"""
from typing import Any, List, Sequence

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS
from mmengine.structures import BaseDataElement
from torch.utils.data import get_worker_info


def _shippable(value) -> bool:
    # .numpy() needs a CPU tensor outside autograd with a numpy dtype.
    return (isinstance(value, torch.Tensor) and value.device.type == 'cpu'
            and not value.requires_grad and value.dtype
            not in (torch.bfloat16, torch.complex32) and value.layout
            == torch.strided and not value.is_quantized)


def _pack_sample(sample):
    """A data element's state with its tensors as numpy arrays."""
    custom_state = getattr(type(sample), '__getstate__',
                           None) is not getattr(object, '__getstate__', None)
    if not isinstance(sample, BaseDataElement) or custom_state:
        return sample, None  # pickled as usual
    state = dict(sample.__dict__)
    arrays = []
    for key, value in state.items():
        if _shippable(value):
            state[key] = value.numpy()
            arrays.append(key)
    return (type(sample), state), arrays


def _rebuild_samples(packed: List[tuple]) -> 'CollatedSamples':
    """Inverse of :meth:`CollatedSamples.__reduce__` (main process)."""
    out = CollatedSamples()
    for item, arrays in packed:
        if arrays is None:
            out.append(item)
            continue
        cls, state = item
        for key in arrays:
            arr = state[key]
            if not arr.flags.writeable:
                arr = arr.copy()  # torch wants writable memory
            state[key] = torch.from_numpy(arr)
        sample = cls.__new__(cls)
        # BaseDataElement keeps fields in __dict__ (what pickle restores).
        sample.__dict__.update(state)
        out.append(sample)
    return out


class CollatedSamples(list):
    """The ``data_samples`` list of a batch made by :func:`hash_collate`.

    A plain list in use; when pickled (a dataloader worker sending the
    batch) its data elements' CPU tensors travel as numpy arrays inside
    the pickle, and are turned back into tensors of the same dtype, shape
    and values on arrival. Anything else (non-element items, tensors on a
    device or requiring grad) is pickled as usual.
    """

    def __reduce__(self):
        return _rebuild_samples, ([_pack_sample(s) for s in self], )


def stack_inputs(inputs: Sequence) -> Any:
    """Stack tensors of one shape and dtype into one batch tensor.

    Inside a dataloader worker the result is allocated in shared memory
    (as torch's ``default_collate`` does), so sending it to the main
    process does not copy it again.

    Args:
        inputs (Sequence): Per-sample inputs.

    Returns:
        torch.Tensor | Sequence: ``(N, ...)`` tensor, or ``inputs``
        unchanged when they are not all tensors of one shape and dtype.
    """
    if not inputs or not all(isinstance(x, torch.Tensor) for x in inputs):
        return inputs
    first = inputs[0]
    if any(x.shape != first.shape or x.dtype != first.dtype
           or x.device != first.device for x in inputs):
        return inputs
    out = None
    if get_worker_info() is not None and first.device.type == 'cpu':
        # As torch's default_collate: stack straight into shared memory.
        storage = first._typed_storage()._new_shared(
            first.numel() * len(inputs), device=first.device)
        out = first.new(storage).resize_(len(inputs), *first.shape)
    return torch.stack(list(inputs), 0, out=out)


@FUNCTIONS.register_module()
def hash_collate(data_batch: Sequence) -> Any:
    """``pseudo_collate`` with stacked inputs and compactly shipped samples.

    Use ``collate_fn=dict(type='hash_collate')`` in a dataloader config (the
    dataset base configs do). Items that are dicts with ``inputs`` (what
    ``PackHashInputs`` makes) get the module docstring's treatment; any
    other item structure is collated exactly as ``pseudo_collate`` does.

    Args:
        data_batch (Sequence): Samples from the dataset.

    Returns:
        Any: ``dict(inputs=Tensor | list, data_samples=CollatedSamples,
        ...)`` for packed samples, else ``pseudo_collate(data_batch)``.
    """
    data = pseudo_collate(data_batch)
    if not isinstance(data, dict) or 'inputs' not in data:
        return data
    data['inputs'] = stack_inputs(data['inputs'])
    samples = data.get('data_samples')
    if isinstance(samples, list) and not isinstance(samples,
                                                    CollatedSamples):
        data['data_samples'] = CollatedSamples(samples)
    return data
