# TAH on NUS-WIDE-21 as a single-domain task (no transfer): the paper drops
# the adversarial part here [P], and the official models/train/nus_wide
# prototxts train AlexNet + fch with the t-distribution pairwise loss
# (weight 1.0) and log-cosh quantization (weight 0.3), base lr 2e-4 [OC];
# solver otherwise as VisDA (SGD 0.9, wd 5e-4, x0.5 / 500 iters, 10k
# iters). Relevance: at least one shared concept. Lists in the community
# format (train.txt 10,500, test.txt 2,100 queries, database.txt); see
# configs/_base_/datasets/nuswide21_list.py.
_base_ = [
    '../_base_/models/hasher_alexnet.py',
    '../_base_/datasets/nuswide21_list.py',
    '../_base_/schedules/tah_sgd_step_10k.py',
    '../_base_/default_runtime.py',
]

num_bits = 48
num_classes = 21

model = dict(
    type='DeepHasher',
    head=dict(
        num_bits=num_bits,
        num_classes=num_classes,
        losses=dict(
            pairwise=dict(
                type='TDistributionPairwiseLoss',
                sim_numerator='half_bits',
                threshold=15.,
                loss_weight=1.0),
            quant=dict(
                type='HashQuantizationLoss', mode='logcosh',
                loss_weight=0.3))))

optim_wrapper = dict(optimizer=dict(lr=2e-4))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='RandomCrop', crop_size=227),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackHashInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 256)),
    dict(type='CenterCrop', crop_size=227),
    dict(type='PackHashInputs'),
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# Table 2 metric: MAP within Hamming radius 2; mAP@5000 (the NUS-WIDE
# convention of later papers) beside it.
val_evaluator = dict(
    _delete_=True,
    type='HammingRetrievalMetric', items=('MAP@H', 'mAP'), radius=2,
    topk=(5000, ))
test_evaluator = val_evaluator

default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=2))
