# MNIST (official 60k train + 10k test as one 70k pool), protocol 'a':
# 1,000 queries (100/class), 5,000 training images (500/class), the other
# 64,000 as database. 'b' and 'c' as for CIFAR-10 (docs/datasets.md).
#
# data_root holds the four official idx files, gzipped or not. For the
# shared copy: data_root = '../shared/data/mnist' (read in place, never
# written). Pipelines and normalization as in mnist5k_hashing.py: images are
# in memory (no LoadImageFromFile), 28x28, gray replicated to 3 channels.
_base_ = ['./mnist5k_hashing.py']

dataset_type = 'MNISTHashing'
data_root = 'data/mnist'
protocol = 'a'

train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, protocol=protocol))
val_dataloader = dict(
    dataset=dict(
        query=dict(type=dataset_type, data_root=data_root, protocol=protocol),
        database=dict(
            type=dataset_type, data_root=data_root, protocol=protocol)))
test_dataloader = val_dataloader
