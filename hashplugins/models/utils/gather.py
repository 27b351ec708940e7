"""All-gather with gradients, so pairwise losses see the global batch."""
from typing import Tuple

import torch
import torch.distributed as dist


def _world_size() -> int:
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


class _AllGatherWithGrad(torch.autograd.Function):
    """Forward: gather equal-shaped tensors from every rank. Backward: sum
    the gradient of each rank's copy of the loss, and keep this rank's rows.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        gathered = [torch.zeros_like(tensor) for _ in range(_world_size())]
        dist.all_gather(gathered, tensor.contiguous())
        return tuple(gathered)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack(grads)
        dist.all_reduce(stacked)
        return stacked[dist.get_rank()]


def gather_batch(tensor: torch.Tensor,
                 with_grad: bool = True) -> torch.Tensor:
    """Concatenate a per-rank batch over all ranks (rank order).

    Every rank then computes the same pairwise loss over the global batch.
    With DDP's gradient averaging, the summed gradient that flows back
    through :class:`_AllGatherWithGrad` gives each parameter exactly the
    gradient of that global-batch loss, as on one process with the whole
    batch. Requires equal batch sizes on all ranks (mmengine's
    ``DefaultSampler`` pads ranks to equal length).

    Args:
        tensor (torch.Tensor): (n, ...) local batch.
        with_grad (bool): Whether gradients flow back (codes) or not
            (labels).

    Returns:
        torch.Tensor: (world_size * n, ...) global batch; the input itself
        when not distributed.
    """
    if _world_size() == 1:
        return tensor
    if with_grad:
        return torch.cat(_AllGatherWithGrad.apply(tensor), dim=0)
    gathered = [torch.zeros_like(tensor) for _ in range(_world_size())]
    dist.all_gather(gathered, tensor.contiguous())
    return torch.cat(gathered, dim=0)


def pad_to_common_width(labels: torch.Tensor) -> torch.Tensor:
    """Zero-pad (n, C) label rows to the widest C over all ranks.

    Without ``num_classes`` the multi-hot width is inferred per batch and
    may differ between ranks; all-gather needs equal shapes, and extra zero
    columns change no similarity.
    """
    if _world_size() == 1:
        return labels
    width = torch.tensor([labels.shape[1]], device=labels.device)
    dist.all_reduce(width, op=dist.ReduceOp.MAX)
    return torch.nn.functional.pad(labels, (0, int(width) - labels.shape[1]))
