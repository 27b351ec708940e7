# USPS (7,291 train + 2,007 test as one 9,298 pool), protocol 'a':
# 1,000 queries (100/class), 5,000 training images (500/class), the other
# 3,298 as database.
#
# data_root is usps.npz or its folder; shared copy: '../shared/data/usps'.
# Images are in memory (no LoadImageFromFile), 16x16 gray replicated to 3
# channels, resized to 28x28 here so USPS pairs with MNIST (MNIST->USPS
# transfer needs one input size).
dataset_type = 'USPSHashing'
data_root = 'data/usps'
protocol = 'a'
split_seed = 0
num_classes = 10

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    # USPS statistics on the 0..255 scale (training part).
    mean=[64.89] * 3,
    std=[98.08] * 3,
    to_rgb=False)

train_pipeline = [
    dict(type='Resize', scale=(28, 28)),
    dict(type='PackHashInputs', num_classes=num_classes),
]
test_pipeline = train_pipeline

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
