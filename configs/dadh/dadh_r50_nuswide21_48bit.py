# DADH with two ImageNet-pretrained ResNet-50 streams on NUS-WIDE-21 (list
# files: 10,500 training images whose codes B are learned, 2,100 queries,
# the rest as database), 48 bits, mAP over the top 5,000. Multi-label: two
# images are similar when they share a concept; the similarity is computed
# from labels in blocks (never 10,500 x 10,500 at once, and never N x N).
# A reconstruction from the abstract: see configs/dadh/README.md.
_base_ = [
    './_base_/dadh_r50_sgd.py',
    '../_base_/datasets/nuswide21_list.py',
]

# 48 bits: the streams' head.num_bits in _base_/dadh_r50_sgd.py.
model = dict(num_classes=21)
