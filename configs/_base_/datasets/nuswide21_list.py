# NUS-WIDE-21 from list files in the community format (DeepHash-pytorch,
# HashNet, TAH): one "path 0 1 0 ... 1" line per image, 21 labels. Usual
# protocol (spec/methods.md §1.5): 100 images per concept as queries
# (test.txt, 2,100), the rest as database (database.txt), 500 per concept
# from the database for training (train.txt, 10,500).
#
# data_root is the image folder the list paths are relative to; ann_file is
# relative to data_root unless absolute. Point both at your copy, e.g.
# DeepHash-pytorch's data/nuswide_21/*.txt with data_root=/dataset/NUS-WIDE.
# Every list line is validated (label width, 0/1 values, duplicates,
# all-zero vectors); see docs/datasets.md.
dataset_type = 'HashingListDataset'
data_root = 'data/nus_wide'
num_classes = 21

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

# The DeepHash-pytorch transform: resize the short edge to 256, crop 224.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='RandomCrop', crop_size=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackHashInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    # One stacked image tensor per batch: cheap to send from workers, same
    # preprocessed inputs as pseudo_collate (hashplugins/datasets/collate.py).
    collate_fn=dict(type='hash_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='train.txt',
        num_classes=num_classes,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))

val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    collate_fn=dict(type='hash_collate'),
    dataset=dict(
        type='QueryDatabaseDataset',
        query=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='test.txt',
            num_classes=num_classes),
        database=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='database.txt',
            num_classes=num_classes),
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader

# NUS-WIDE convention: mAP over the top 5,000 (relevant = a shared concept).
val_evaluator = dict(
    type='HammingRetrievalMetric', items=('mAP', ), topk=(5000, ))
test_evaluator = val_evaluator
