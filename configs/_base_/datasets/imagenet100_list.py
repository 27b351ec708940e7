# ImageNet-100 (HashNet's 100-class subset) from list files: test.txt
# 5,000 queries, database.txt 128,495, train.txt 13,000 (100 per class),
# one-hot "path 0 .. 1 .. 0" lines of 100 labels. Format, paths and
# pipelines as in nuswide21_list.py.
_base_ = ['./nuswide21_list.py']

data_root = 'data/imagenet'
num_classes = 100

train_dataloader = dict(
    dataset=dict(data_root=data_root, num_classes=num_classes))
val_dataloader = dict(
    dataset=dict(
        query=dict(data_root=data_root, num_classes=num_classes),
        database=dict(data_root=data_root, num_classes=num_classes)))
test_dataloader = val_dataloader

# ImageNet-100 convention: mAP@1000.
val_evaluator = dict(topk=(1000, ))
test_evaluator = val_evaluator
