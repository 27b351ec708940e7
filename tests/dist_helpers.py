"""Run a test worker on several local gloo ranks (spawned processes).

Named apart from test files so no test folder shadows it; pytest puts
``tests/`` (the conftest's folder) on ``sys.path``.
"""
import socket

import torch.multiprocessing as mp


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_ranks(worker, num_results: int, world_size: int = 2,
              timeout: float = 180) -> list:
    """Start ``worker(rank, port, queue)`` on ``world_size`` spawned ranks.

    Workers must put plain (picklable by value) results on the queue: a
    torch tensor travels as a shared file descriptor that is lost when its
    process exits first.

    Returns:
        list: The ``num_results`` items the workers put on the queue.
    """
    port = free_port()
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker, args=(rank, port, queue))
             for rank in range(world_size)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=timeout) for _ in range(num_results)]
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0, f'a rank exited with {proc.exitcode}'
    return results
