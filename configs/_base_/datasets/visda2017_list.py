# VisDA-2017 for transfer hashing (TAH, spec/methods.md §2.6), synthetic ->
# real: labelled synthetic training images (source, domain 0), unlabelled
# real training images (target, domain 1), and queries/database from the
# real domain. 12 classes, one-hot "path 0 .. 1 .. 0" list lines.
#
# TAH's published lists hold 500 training images per class and domain but
# only 50 queries per class and no database list, so make the lists from
# the VisDA folders (train/ = synthetic, validation/ = real) with the
# protocol splitter, e.g. TAH's protocol (100 queries/class, rest database,
# 500/class training drawn from the database):
#   python tools/dataset_converters/folder_to_list.py data/visda2017/train \
#       data/visda2017/lists/synthetic --split --protocol tah
#   python tools/dataset_converters/folder_to_list.py \
#       data/visda2017/validation data/visda2017/lists/real --split \
#       --protocol tah
# (paths in the lists are relative to the folder given, hence the
# data_prefix values below). Swap synthetic/real for real -> synthetic.
# The transfer wrapper that pairs source and target batches is configured
# by the TAH/METAH configs; this file defines both training sets.
dataset_type = 'HashingListDataset'
data_root = 'data/visda2017'
num_classes = 12

data_preprocessor = dict(
    type='ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

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

source_train_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix='train',
    ann_file='lists/synthetic_train.txt',
    num_classes=num_classes,
    domain_id=0,
    pipeline=train_pipeline)
# Target labels are read (the list format carries them) but must never
# reach a loss; the transfer hasher drops them by the domain tag.
target_train_dataset = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix='validation',
    ann_file='lists/real_train.txt',
    num_classes=num_classes,
    domain_id=1,
    pipeline=train_pipeline)

# Single-domain default: train on the labelled source only (the
# "DHN-Transfer" baseline); transfer configs replace this dataset.
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    # One stacked image tensor per batch: cheap to send from workers, same
    # preprocessed inputs as pseudo_collate (hashplugins/datasets/collate.py).
    collate_fn=dict(type='hash_collate'),
    dataset=source_train_dataset,
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
            data_prefix='validation',
            ann_file='lists/real_query.txt',
            num_classes=num_classes,
            domain_id=1),
        database=dict(
            type=dataset_type,
            data_root=data_root,
            data_prefix='validation',
            ann_file='lists/real_database.txt',
            num_classes=num_classes,
            domain_id=1),
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader

# TAH's headline metric is MAP within Hamming radius 2 (set by the TAH
# configs); mAP@all is the dataset-level default.
val_evaluator = dict(
    type='HammingRetrievalMetric', items=('mAP', ), topk=(None, ))
test_evaluator = val_evaluator
