"""HashingGAN under 2-process (gloo) training with
MMSeparateDistributedDataParallel, as configs/ganreg stage 1 runs it: each
rank sees different images, yet after every iteration (a discriminator
step, then a generator step with the discriminator frozen) both ranks hold
the same generator and discriminator weights, and these differ from a run
that saw one rank's images only (the gradients were averaged)."""
import torch
import torch.distributed as dist
from mmengine.logging import MessageHub
from mmengine.model import MMSeparateDistributedDataParallel
from mmengine.model.wrappers import MMDistributedDataParallel

from dist_helpers import run_ranks
from gan_helpers import batch, build_gan, optim_wrappers

ITERS = 3


def _train(model, step_fn, rank):
    wrappers = optim_wrappers(model)
    hub = MessageHub.get_current_instance()
    for it in range(ITERS):
        hub.update_info('iter', it)
        step_fn(batch(num=4, num_classes=10, seed=10 * it + rank), wrappers)
    return {name: torch.cat([p.detach().flatten()
                             for p in getattr(model, name).parameters()])
            for name in ('generator', 'discriminator')}


def _worker(rank, port, queue):
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=2)
    torch.set_num_threads(1)
    model = build_gan(num_classes=10, conditioning='ac')
    wrapped = MMSeparateDistributedDataParallel(model, broadcast_buffers=False)
    assert all(isinstance(getattr(model, name), MMDistributedDataParallel)
               for name in ('generator', 'discriminator'))
    # the noise must differ per rank too, as torch's seed does per rank
    torch.manual_seed(100 + rank)
    weights = _train(wrapped.module, wrapped.train_step, rank)
    queue.put((rank, {k: v.tolist() for k, v in weights.items()}))
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_keep_identical_generator_and_discriminator():
    states = dict(run_ranks(_worker, num_results=2))
    torch.manual_seed(100)
    alone = build_gan(num_classes=10, conditioning='ac')
    torch.manual_seed(100)
    single = _train(alone, alone.train_step, rank=0)
    for name in ('generator', 'discriminator'):
        rank0, rank1 = (torch.tensor(states[r][name]) for r in (0, 1))
        assert torch.equal(rank0, rank1), name
        assert not torch.allclose(rank0, single[name]), name
