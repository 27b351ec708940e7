# CIFAR-10 for hashing at its native 32x32, protocol (a):
# 1,000 queries (100/class), 5,000 training images (500/class), and the other
# 54,000 as the database (training images excluded). Other protocols:
# protocol='b' (alias 'cifar10-1': database = all 59,000 non-queries, train
# drawn from it) or 'c' (alias 'cifar10-2': official 10k test = queries,
# official 50k train = train = database). See docs/datasets.md.
#
# data_root may hold the official python pickles, an image-folder copy
# (train/<class>/*.jpg, test/<class>/*.jpg, with official_order.npz), or the
# archive of either. To use the shared JPEG copy from the repository root:
#   mkdir -p data && ln -s ../../shared/data/cifar10 data/cifar10
# (or set data_root = '../shared/data/cifar10'). The archive is extracted
# once into $HASHPLUGINS_CACHE (default ~/.cache/hashplugins), never into
# the data folder. The shared copy is lossy JPEG: say so next to results.
dataset_type = 'CIFAR10Hashing'
data_root = 'data/cifar10'
protocol = 'a'
split_seed = 0
num_classes = 10

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    # CIFAR-10 pixel statistics, RGB order (images load as BGR).
    mean=[125.307, 122.961, 113.8575],
    std=[51.5865, 50.847, 51.255],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs', num_classes=num_classes),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackHashInputs', num_classes=num_classes),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    # One stacked image tensor per batch: cheap to send from workers, same
    # preprocessed inputs as pseudo_collate (hashplugins/datasets/collate.py).
    collate_fn=dict(type='hash_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        protocol=protocol,
        seed=split_seed,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))

# One pass over queries then database; samples carry split='query'/'database'.
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    collate_fn=dict(type='hash_collate'),
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

# CIFAR-10 convention: mAP over the whole database (mAP@all).
val_evaluator = dict(
    type='HammingRetrievalMetric', items=('mAP', ), topk=(None, ))
test_evaluator = val_evaluator
