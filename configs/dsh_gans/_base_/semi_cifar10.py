# Semi-supervised CIFAR-10 for DSH-GANs [I, spec §4.2]: protocol (b)
# (1,000 queries, 100/class; database = the other 59,000; 5,000 labelled
# training images, 500/class, drawn from the database). The unlabelled
# pool is the database without the labelled images (54,000), from the
# same split files. Each batch: N labelled + N unlabelled images at 32 px
# (the GAN's resolution; the hashing CNN resizes if it needs more).
_base_ = ['../../_base_/datasets/cifar10_hashing.py']

protocol = 'b'
semi_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs', num_classes={{_base_.num_classes}}),
]
unlabelled_per_labelled = 1
train_dataloader = dict(
    batch_size=64,
    collate_fn=dict(type='semi_supervised_collate'),
    dataset=dict(
        _delete_=True,
        type='SemiSupervisedDataset',
        labelled=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='train',
            protocol=protocol,
            seed={{_base_.split_seed}},
            pipeline=semi_pipeline),
        unlabelled=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            split='database',
            protocol=protocol,
            seed={{_base_.split_seed}},
            pipeline=semi_pipeline),
        unlabelled_per_labelled=unlabelled_per_labelled,
        exclude_labelled=True,
        seed=0),
    sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(
    dataset=dict(
        query=dict(protocol=protocol),
        database=dict(protocol=protocol)))
test_dataloader = val_dataloader
