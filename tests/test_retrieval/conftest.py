"""Fixtures shared by the retrieval tests."""
import os.path as osp

import pytest
import torch

LENET_CONFIG = 'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py'


@pytest.fixture(scope='module')
def encoder(repo_root):
    """A CPU ``HashEncoder`` of the LeNet-5 DPSH config, initial weights of
    seed 0 (one per test module)."""
    from hashplugins.apis import HashEncoder
    torch.manual_seed(0)
    return HashEncoder(osp.join(repo_root, LENET_CONFIG), device='cpu')
