# MNIST (official 60k train + 10k test as one 70k pool), protocol 'a':
# 1,000 queries (100/class), 5,000 training images (500/class), the other
# 64,000 as database. 'b' and 'c' as for CIFAR-10 (docs/datasets.md).
#
# data_root holds the four official idx files, gzipped or not. For the
# shared copy: data_root = '../shared/data/mnist' (read in place, never
# written). Images are in memory (no LoadImageFromFile), 28x28, gray
# replicated to 3 channels.
dataset_type = 'MNISTHashing'
data_root = 'data/mnist'
protocol = 'a'
split_seed = 0
num_classes = 10

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[33.3285] * 3,
    std=[78.5655] * 3,
    to_rgb=False)

train_pipeline = [dict(type='PackHashInputs', num_classes=num_classes)]
test_pipeline = [dict(type='PackHashInputs', num_classes=num_classes)]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        protocol=protocol,
        seed=split_seed,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))

val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    dataset=dict(
        type='QueryDatabaseDataset',
        query=dict(
            type=dataset_type,
            data_root=data_root,
            split='query',
            protocol=protocol,
            seed=split_seed),
        database=dict(
            type=dataset_type,
            data_root=data_root,
            split='database',
            protocol=protocol,
            seed=split_seed),
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader

val_evaluator = dict(
    type='HammingRetrievalMetric', metrics=('mAP', ), topk=(None, ))
test_evaluator = val_evaluator
