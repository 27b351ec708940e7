# MS-COCO (80 labels) from list files: DeepHash-pytorch's data/coco lists
# (test.txt 5,000 queries, database.txt, train.txt 10,000). Format, paths and
# pipelines as in nuswide21_list.py.
_base_ = ['./nuswide21_list.py']

data_root = 'data/coco'
num_classes = 80

train_dataloader = dict(
    dataset=dict(data_root=data_root, num_classes=num_classes))
val_dataloader = dict(
    dataset=dict(
        query=dict(data_root=data_root, num_classes=num_classes),
        database=dict(data_root=data_root, num_classes=num_classes)))
test_dataloader = val_dataloader

# MS-COCO convention: mAP@5000.
val_evaluator = dict(topk=(5000, ))
test_evaluator = val_evaluator
