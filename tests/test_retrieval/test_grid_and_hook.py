"""Retrieval grid layout and the validation hook that draws it."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

from hashplugins.engine.hooks import RetrievalGridHook
from hashplugins.retrieval.grid import FRAME_COLORS, draw_retrieval_grid


def test_grid_layout_and_marks():
    rng = np.random.default_rng(0)
    queries = [rng.integers(0, 255, (32, 32, 3), np.uint8),
               rng.integers(0, 255, (20, 40), np.uint8)]
    results = [[rng.integers(0, 255, (28, 28), np.uint8)] * 5,
               [rng.integers(0, 255, (50, 30, 3), np.uint8)] * 3]
    grid = draw_retrieval_grid(
        queries, results, distances=[[0, 1, 1, 2, 3], [4, 4, 5]],
        relevant=[[1, 0, 1, 1, 0], [0, 1, 1]], tile_size=40, border=3)
    # rows x cols tiles, cols = 1 query + the longest result row
    assert grid.shape == (2 * 40, 6 * 40, 3) and grid.dtype == np.uint8
    # frames: query blue, relevant green, irrelevant red (bottom-right
    # pixel of each tile is frame)
    assert tuple(grid[39, 39]) == FRAME_COLORS['query']
    assert tuple(grid[39, 2 * 40 - 1]) == FRAME_COLORS['relevant']
    assert tuple(grid[39, 3 * 40 - 1]) == FRAME_COLORS['irrelevant']
    assert tuple(grid[79, 2 * 40 - 1]) == FRAME_COLORS['irrelevant']
    # the short second row leaves blank (white) tiles
    assert (grid[40:, 4 * 40:] == 255).all()
    unknown = draw_retrieval_grid(queries, results, tile_size=40, border=3)
    assert tuple(unknown[39, 2 * 40 - 1]) == FRAME_COLORS['unknown']
    with pytest.raises(ValueError, match='result rows'):
        draw_retrieval_grid(queries, results[:1])


class TinyDataset:
    """Query 0..3, database 4..23; class = index % 2; images in memory."""

    def __len__(self):
        return 24

    def get_data_info(self, i):
        return dict(img=np.full((8, 8), 10 * i, np.uint8))


def _outputs(rng, indices):
    samples = []
    for i in indices:
        s = DataSample(metainfo=dict(
            sample_idx=i, split='query' if i < 4 else 'database'))
        s.set_gt_label(i % 2)
        s.set_field(torch.from_numpy(
            np.where(rng.random(16) < .5, -1., 1.)).float(), 'hash_code',
            field_type='data')
        samples.append(s)
    return samples


def test_hook_saves_grid(tmp_path):
    rng = np.random.default_rng(0)
    hook = RetrievalGridHook(num_queries=3, topk=5, tile_size=32)
    logs = []
    runner = SimpleNamespace(
        val_dataloader=SimpleNamespace(dataset=TinyDataset()), rank=0,
        work_dir=str(tmp_path), iter=7, visualizer=None,
        logger=SimpleNamespace(info=logs.append))
    hook.before_val_epoch(runner)
    # batches in any order (as a sampler may give them)
    for batch in ([5, 0, 9, 1], list(range(10, 24)), [2, 3, 4, 6, 7, 8]):
        hook.after_val_iter(runner, 0, None, _outputs(rng, batch))
    hook.after_val_epoch(runner)
    from PIL import Image
    path = tmp_path / 'retrieval_grids' / 'iter_7.png'
    assert hook.saved == [str(path)] and logs
    image = np.asarray(Image.open(path))
    assert image.shape == (3 * 32, 6 * 32, 3)


def test_hook_needs_split_tags():
    hook = RetrievalGridHook()
    with pytest.raises(ValueError, match='no query samples'):
        hook.draw([dict(split='database', sample_idx=0, code=None)],
                  TinyDataset())


def test_hook_in_runner_validation(tmp_path, repo_root):
    """A real Runner validation (DPSH LeNet-5 on MNIST-5k, a small
    query/database protocol) writes the grid with the expected layout."""
    import os.path as osp

    from mmengine.config import Config
    from mmengine.runner import Runner
    from PIL import Image
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs/dpsh/dpsh_lenet5_mnist5k_16bit.py'))
    protocol = dict(kind='per_class', num_query_per_class=2,
                    num_train_per_class=5, database='rest',
                    num_database_per_class=6)
    for part in ('query', 'database'):
        cfg.val_dataloader.dataset[part].protocol = protocol
    cfg.val_dataloader.batch_size = 32
    cfg.test_dataloader = cfg.val_dataloader
    cfg.work_dir = str(tmp_path)
    cfg.custom_hooks = [dict(type='RetrievalGridHook', num_queries=3,
                             topk=5, tile_size=40)]
    runner = Runner.from_cfg(cfg)
    runner.val()
    path = tmp_path / 'retrieval_grids' / 'iter_0.png'
    assert np.asarray(Image.open(path)).shape == (3 * 40, 6 * 40, 3)
