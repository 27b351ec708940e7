# One PACS domain (here: photo) as a single-domain hashing dataset, protocol
# 'b': 20 queries per class (140), database = all other images of the
# domain, 100 training images per class (700) drawn from the database.
# pacs_art_painting.py and pacs_cartoon.py switch the domain; transfer
# configs (photo -> art_painting / cartoon) combine a source and a target.
#
# data_root holds photo/, art_painting/, cartoon/ with <class>/*.jpg, or
# their archive, or a folder holding only that archive. For the shared copy
# (pacs_128.tar.gz, 128x128 JPEGs; extracted once into $HASHPLUGINS_CACHE):
#   data_root = '../shared/data/pacs'
dataset_type = 'PACSDomain'
data_root = 'data/pacs'
domain = 'photo'
protocol = 'b'
split_seed = 0
num_classes = 7

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='RandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs', num_classes=num_classes),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackHashInputs', num_classes=num_classes),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    # One stacked image tensor per batch: cheap to send from workers, same
    # preprocessed inputs as pseudo_collate (hashplugins/datasets/collate.py).
    collate_fn=dict(type='hash_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        domain=domain,
        split='train',
        protocol=protocol,
        seed=split_seed,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))

val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    collate_fn=dict(type='hash_collate'),
    dataset=dict(
        type='QueryDatabaseDataset',
        query=dict(
            type=dataset_type,
            data_root=data_root,
            domain=domain,
            split='query',
            protocol=protocol,
            seed=split_seed),
        database=dict(
            type=dataset_type,
            data_root=data_root,
            domain=domain,
            split='database',
            protocol=protocol,
            seed=split_seed),
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader

# Single-label, small database: mAP@all; TAH-style configs add the
# radius-2 metrics.
val_evaluator = dict(
    type='HammingRetrievalMetric', items=('mAP', ), topk=(None, ))
test_evaluator = val_evaluator
