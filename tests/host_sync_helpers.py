"""Count the calls that make the host wait for a device.

On a GPU each of these reads a CUDA tensor's values into host memory and
waits for the queued kernels; on the CPU they are cheap, so a test counts
them instead of timing them. Named apart from test files so no test folder
shadows it.
"""
import contextlib
import os.path as osp
import sys
from collections import Counter

import torch

import hashplugins

SYNC_METHODS = ('item', 'cpu', 'numpy', 'tolist', '__bool__', '__int__',
                '__float__', '__index__')


PACKAGE_DIR = osp.dirname(osp.abspath(hashplugins.__file__)) + osp.sep


@contextlib.contextmanager
def count_host_syncs(monkeypatch):
    """Patch the tensor methods of :data:`SYNC_METHODS` with counting
    wrappers; yields a ``Counter`` of calls made from hashplugins' code,
    keyed ``'<file>:<line> <method>'``. Calls from torch and mmengine are
    not counted (e.g. the optimizers' ``step.item()`` reads a host tensor
    even on a GPU)."""
    counts = Counter()
    for name in SYNC_METHODS:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original, **kwargs):
            caller = sys._getframe(1)
            path = caller.f_code.co_filename
            if path.startswith(PACKAGE_DIR):
                counts[f'{path[len(PACKAGE_DIR):]}:{caller.f_lineno} '
                       f'{_name}'] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counted)
    try:
        yield counts
    finally:
        monkeypatch.undo()
