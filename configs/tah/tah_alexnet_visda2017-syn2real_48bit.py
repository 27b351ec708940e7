# TAH (Cao, Long, Huang, Wang; AAAI 2018) on VisDA-2017 synthetic -> real,
# 48 bits (the official prototxt's num_output), following the official
# Caffe code thuml/TAH (models/train/synthetic/*.prototxt) [OC]; the method
# parts are in ./_base_/tah.py, the network and transform in
# ./_base_/tah_alexnet.py. Task-specific here:
#  - AlexNet conv1-5 + fc6/fc7 (4096, ReLU, dropout 0.5) -> fch (b) -> tanh;
#  - loss weights: quantization 9, domain 0.8, pairwise 1 (the prototxt
#    says 6, but the official pairwise backward ignores loss_weight);
#  - batches of 64 synthetic (labelled) + 64 real (unlabelled);
#  - resize 256x256, random crop 227, mirror; test centre crop 227;
#  - SGD 2e-5, momentum 0.9, wd 5e-4, x0.5 every 500 iterations, 10k iters,
#    lr x10/x20 for fch and the discriminator (see the schedule file).
# Lists: tools/dataset_converters/visda2017_to_lists.py (paper protocol:
# 100 queries/class from the real domain, the rest the database, 500
# training images/class in each domain).
#
# Pretrained weights: see ./_base_/tah_alexnet.py. Normalization is
# mmpretrain's ImageNet mean/std (base dataset config); Caffe subtracted the
# BGR mean image, so match whatever the converted weights expect.
_base_ = [
    './_base_/tah_alexnet.py',
    '../_base_/datasets/visda2017_list.py',
]

num_bits = 48
num_classes = 12

model = dict(
    head=dict(
        num_bits=num_bits,
        num_classes=num_classes,
        losses=dict(quant=dict(loss_weight=9.0))),
    transfer_heads=dict(domain=dict(loss_weight=0.8)))

train_pipeline = {{_base_.caffe_train_pipeline}}
test_pipeline = {{_base_.caffe_test_pipeline}}

# 64 pairs per iteration = 64 source + 64 target images.
train_dataloader = dict(
    drop_last=True,  # full 64 + 64 batches only, as Caffe's [OC]
    batch_size=64,
    collate_fn=dict(type='transfer_collate'),
    dataset=dict(
        _delete_=True,
        type='TransferPairDataset',
        source=dict(
            type='HashingListDataset',
            data_root='data/visda2017',
            data_prefix='train',
            ann_file='lists/synthetic_train.txt',
            num_classes=num_classes,
            pipeline=train_pipeline),
        target=dict(
            type='HashingListDataset',
            data_root='data/visda2017',
            data_prefix='validation',
            ann_file='lists/real_train.txt',
            num_classes=num_classes,
            pipeline=train_pipeline),
        seed=0))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

# Table 2 metric: MAP within Hamming radius 2 (zero for an empty ball, as
# the official predict.py); mAP@all beside it.
val_evaluator = dict(
    _delete_=True,
    type='HammingRetrievalMetric', items=('MAP@H', 'mAP'), radius=2,
    topk=(None, ))
test_evaluator = val_evaluator
