# METAH on NUS-WIDE-21, 48 bits (multi-label: the classifier is sigmoid,
# its source loss binary cross-entropy and the target term the sum of the
# per-class binary entropies [I]). NUS-WIDE may be the paper's second
# dataset [?]. TAH treats NUS-WIDE as single-domain retrieval without the
# adversary (../tah/tah_alexnet_nuswide21_48bit.py: AlexNet + fch,
# t-distribution pairwise + quantization 0.3, SGD 2e-4, 10k iterations);
# this config keeps that (no domain discriminator) and adds METAH's parts
# transductively [?]: labelled source = train.txt (10,500), unlabelled
# target = the retrieval database images (database.txt, labels dropped),
# 64 + 64 images per iteration; alpha = 1, beta = 0.1 [?], entropy ramped
# over the run [I], classifier at lr x10 [I]. Not trained here.
_base_ = [
    '../tah/tah_alexnet_nuswide21_48bit.py',
    './_base_/metah.py',
]

num_classes = 21

# the METAH classifier of ./_base_/metah.py, multi-label (sigmoid)
model = dict(
    transfer_heads=dict(
        semantic=dict(
            type='CodeClassifierHead',
            hidden_channels=(),
            multi_label=True,
            cls_weight=1.0,
            ent_weight=0.1)))

train_dataloader = dict(
    drop_last=True,  # full 64 + 64 batches only, as Caffe's [OC]
    batch_size=64,
    collate_fn=dict(type='transfer_collate'),
    dataset=dict(
        _delete_=True,
        type='TransferPairDataset',
        source=dict(
            type='HashingListDataset',
            data_root='data/nus_wide',
            ann_file='train.txt',
            num_classes=num_classes,
            pipeline={{_base_.caffe_train_pipeline}}),
        target=dict(
            type='HashingListDataset',
            data_root='data/nus_wide',
            ann_file='database.txt',
            num_classes=num_classes,
            pipeline={{_base_.caffe_train_pipeline}}),
        length='source',
        seed=0))

optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={{_base_.semantic_lr_keys}}))
# no domain adversary here, so no GRL schedule
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'), {{_base_.entropy_ramp_hook}}
]
