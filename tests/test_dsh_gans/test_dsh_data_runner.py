"""The semi-supervised data (labelled split + unlabelled pool without the
labelled images, labels dropped, tagged batches), the shipped configs,
and a DSHGANs run through the real Runner: checkpoints hold the three
optimizers' states and --resume restores them."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS

from dsh_helpers import OPTIM_CFG, dsh_cfg

torch.set_num_threads(1)
PIPELINE = [dict(type='Resize', scale=(32, 32)),
            dict(type='PackHashInputs', num_classes=10)]


def _semi_cfg(labelled=None, unlabelled=None, k=2):
    return dict(
        type='SemiSupervisedDataset',
        labelled=dict(type='MNIST5kHashing', split='train',
                      pipeline=PIPELINE, **(labelled or {})),
        unlabelled=dict(type='MNIST5kHashing', split='database',
                        pipeline=PIPELINE, **(unlabelled or {})),
        unlabelled_per_labelled=k)


def test_semi_supervised_dataset_excludes_labelled_and_drops_labels():
    from hashplugins.datasets import semi_supervised_collate
    dataset = DATASETS.build(_semi_cfg())
    # protocol (b): database = 4,000 non-queries incl. the 2,000 train
    assert len(dataset) == len(dataset.labelled) == 2000
    assert dataset.num_excluded == 2000
    assert len(dataset.unlabelled) == 2000
    taken = {dataset.labelled.get_data_info(i)['pool_index']
             for i in range(len(dataset.labelled))}
    pool = {dataset.unlabelled.get_data_info(i)['pool_index']
            for i in range(len(dataset.unlabelled))}
    assert not taken & pool
    batch = semi_supervised_collate([dataset[0], dataset[1]])
    samples = batch['data_samples']
    assert [s.is_labelled for s in samples] == [True] * 2 + [False] * 4
    assert all(s.gt_label.numel() == 1 for s in samples[:2])
    assert all(s.gt_label.numel() == 0 for s in samples[2:])
    kept = DATASETS.build(dict(_semi_cfg(), exclude_labelled=False))
    assert len(kept.unlabelled) == 4000
    with pytest.raises(TypeError, match='SemiSupervisedDataset items'):
        semi_supervised_collate([dict(real=1, fakes=[])])


CONFIGS = sorted(glob.glob(osp.join(osp.dirname(__file__), '..', '..',
                                    'configs', 'dsh_gans', '*.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds(path):
    cfg = Config.fromfile(path)
    model_cfg = cfg.model.to_dict()
    model_cfg['hasher']['backbone'].pop('init_cfg', None)  # no download
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    assert model.num_classes == model.hasher.num_classes
    if cfg.model.type == 'RealTripletHasher':  # the CNN's optimizer only
        assert set(cfg.optim_wrapper) == {'optimizer'}
    else:
        assert set(cfg.optim_wrapper) - {'constructor'} == {
            'generator', 'discriminator', 'hasher'}
    assert cfg.train_dataloader.collate_fn.type == 'semi_supervised_collate'
    if 'nuswide' in path:
        assert model.multi_label and cfg.val_evaluator.topk == (5000, )


def test_cpu_config_data_builds(shared_data):
    cfg = Config.fromfile(osp.join(
        osp.dirname(CONFIGS[0]),
        'dsh-gans_r18s_cifar10-500pc_32px_12bit_cpu.py'))
    root = osp.join(shared_data, 'cifar10', 'CIFAR-10-images.tar.gz')
    data = cfg.train_dataloader.dataset
    data.labelled.data_root = data.unlabelled.data_root = root
    dataset = DATASETS.build(data)
    # protocol (b): 5,000 labelled, database 59,000 minus them
    assert len(dataset.labelled) == 5000
    assert len(dataset.unlabelled) == 54000
    item = dataset[0]
    assert item['labelled']['inputs'].shape == (3, 32, 32)
    assert item['unlabelled'][0]['data_samples'].gt_label.numel() == 0


def _runner_cfg(work_dir, max_iters, resume=False, load_from=None):
    return Config(dict(
        default_scope='mmpretrain',
        work_dir=work_dir,
        experiment_name=osp.basename(work_dir),
        model=dsh_cfg(num_classes=10, pretrain_iters=2),
        train_dataloader=dict(
            batch_size=4, num_workers=0,
            collate_fn=dict(type='semi_supervised_collate'),
            dataset=_semi_cfg(dict(indices=16), dict(indices=40), k=1),
            sampler=dict(type='InfiniteSampler', shuffle=True)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=OPTIM_CFG,
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=4,
                            by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='WeightsOnlyCheckpointHook')],
        randomness=dict(seed=0),
        resume=resume,
        load_from=load_from,
        log_level='WARNING'))


def _steps(runner):
    return {name: int(w.optimizer.state_dict()['state'][0]['step'])
            for name, w in runner.optim_wrapper.items()}


def test_runner_resume_restores_three_optimizers(tmp_path):
    work = str(tmp_path / 'run')
    runner = Runner.from_cfg(_runner_cfg(work, max_iters=4))
    runner.train()
    # 2 GAN iterations (D + G), 2 joint iterations (CNN + G; the CNN's
    # adversary stream is the discriminator there)
    assert _steps(runner) == dict(generator=4, discriminator=2, hasher=2)
    ckpt = osp.join(work, 'iter_4.pth')
    saved = torch.load(ckpt, weights_only=True)
    assert set(saved['optimizer']) == {'generator', 'discriminator',
                                       'hasher'}
    resumed = Runner.from_cfg(_runner_cfg(str(tmp_path / 'resumed'), 4,
                                          resume=True, load_from=ckpt))
    resumed.train()
    assert resumed.iter == 4
    for name, wrapper in runner.optim_wrapper.items():
        a = wrapper.optimizer.state_dict()['state']
        b = resumed.optim_wrapper[name].optimizer.state_dict()['state']
        assert set(a) == set(b), name
        for idx in a:
            for key, value in a[idx].items():
                assert torch.equal(torch.as_tensor(value),
                                   torch.as_tensor(b[idx][key])), (name, key)
    for key, value in runner.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    more = Runner.from_cfg(_runner_cfg(str(tmp_path / 'more'), 5,
                                       resume=True, load_from=ckpt))
    more.train()
    assert _steps(more) == dict(generator=5, discriminator=2, hasher=3)
