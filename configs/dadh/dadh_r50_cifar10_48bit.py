# DADH (Li, Zhang, Lu, Zhang, arXiv 1801.08360; IEEE Access 2019): two
# ImageNet-pretrained ResNet-50 streams on CIFAR-10 at 224 px, 48 bits,
# protocol (a): 1,000 queries, 5,000 training images (their codes B are
# learned), 54,000 database images; mAP over the whole database.
# A reconstruction from the abstract: see configs/dadh/README.md.
_base_ = [
    './_base_/dadh_r50_sgd.py',
    '../_base_/datasets/cifar10_hashing_224.py',
]

# 48 bits: the streams' head.num_bits in _base_/dadh_r50_sgd.py.
model = dict(num_classes=10)

train_dataloader = dict(batch_size=64)
