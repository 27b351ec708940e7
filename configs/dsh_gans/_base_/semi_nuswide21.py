# Semi-supervised NUS-WIDE-21 for DSH-GANs [I, spec §4.2]: the usual list
# files (test.txt 2,100 queries, train.txt 10,500 labelled, database.txt);
# the unlabelled pool is database.txt without the training images
# (matched by image path). Multi-hot labels; mAP@5000. Images are
# resized to 64 px, the GAN's resolution [?]; the hashing CNN resizes to
# its own input size.
_base_ = ['../../_base_/datasets/nuswide21_list.py']

semi_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs'),
]
eval_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64)),
    dict(type='PackHashInputs'),
]
train_dataloader = dict(
    batch_size=32,
    collate_fn=dict(type='semi_supervised_collate'),
    dataset=dict(
        _delete_=True,
        type='SemiSupervisedDataset',
        labelled=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file='train.txt',
            num_classes={{_base_.num_classes}},
            pipeline=semi_pipeline),
        unlabelled=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            ann_file='database.txt',
            num_classes={{_base_.num_classes}},
            pipeline=semi_pipeline),
        unlabelled_per_labelled=1,
        exclude_labelled=True,
        seed=0),
    sampler=dict(type='InfiniteSampler', shuffle=True))
val_dataloader = dict(dataset=dict(pipeline=eval_pipeline))
test_dataloader = val_dataloader
