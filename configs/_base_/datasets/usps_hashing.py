# USPS (7,291 train + 2,007 test as one 9,298 pool), protocol 'a':
# 1,000 queries (100/class), 5,000 training images (500/class), the other
# 3,298 as database.
#
# data_root is usps.npz or its folder; shared copy: '../shared/data/usps'.
# Images are in memory (no LoadImageFromFile), 16x16 gray replicated to 3
# channels, resized to 28x28 here so USPS pairs with MNIST (MNIST->USPS
# transfer needs one input size).
_base_ = ['./mnist_hashing.py']

dataset_type = 'USPSHashing'
data_root = 'data/usps'
num_classes = 10

# USPS statistics on the 0..255 scale (training part).
data_preprocessor = dict(mean=[64.89] * 3, std=[98.08] * 3)

train_pipeline = [
    dict(type='Resize', scale=(28, 28)),
    dict(type='PackHashInputs', num_classes=num_classes),
]
test_pipeline = train_pipeline

train_dataloader = dict(
    dataset=dict(
        type=dataset_type, data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        query=dict(type=dataset_type, data_root=data_root),
        database=dict(type=dataset_type, data_root=data_root),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
