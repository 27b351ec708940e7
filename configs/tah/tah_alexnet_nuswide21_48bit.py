# TAH on NUS-WIDE-21 as a single-domain task (no transfer): the paper drops
# the adversarial part here [P], and the official models/train/nus_wide
# prototxts train AlexNet + fch with the t-distribution pairwise loss
# (weight 1.0) and log-cosh quantization (weight 0.3), base lr 2e-4 [OC];
# solver otherwise as VisDA (SGD 0.9, wd 5e-4, x0.5 / 500 iters, 10k
# iters, Caffe lr multipliers). The model is a TransferHasher without
# transfer heads, trained on labelled (domain 0) images only, as TAH-A.
# Relevance: at least one shared concept. Lists in the community format
# (train.txt 10,500, test.txt 2,100 queries, database.txt); see
# configs/_base_/datasets/nuswide21_list.py.
_base_ = [
    './_base_/tah_alexnet.py',
    '../_base_/datasets/nuswide21_list.py',
]

num_bits = 48
num_classes = 21

model = dict(
    head=dict(
        num_bits=num_bits,
        num_classes=num_classes,
        losses=dict(quant=dict(loss_weight=0.3))),
    transfer_heads=dict(_delete_=True))

optim_wrapper = dict(optimizer=dict(lr=2e-4))

train_dataloader = dict(
    batch_size=64,
    dataset=dict(pipeline={{_base_.caffe_train_pipeline}}, domain_id=0))
val_dataloader = dict(dataset=dict(pipeline={{_base_.caffe_test_pipeline}}))
test_dataloader = val_dataloader

# Table 2 metric: MAP within Hamming radius 2; mAP@5000 (the NUS-WIDE
# convention of later papers) beside it.
val_evaluator = dict(
    _delete_=True,
    type='HammingRetrievalMetric', items=('MAP@H', 'mAP'), radius=2,
    topk=(5000, ))
test_evaluator = val_evaluator

custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
