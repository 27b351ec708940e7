# CIFAR-10 at 32 px with only 100 labelled images/class (protocol per_class:
# 100 queries/class, 100 training images/class, database = the other 58,000
# images): the small-labelled-data regime of the CPU-scale ganreg pair.
# (_delete_: the dicts replace the base's protocol name 'a'.)
_base_ = ['../../_base_/datasets/cifar10_hashing.py']
small_protocol = dict(kind='per_class', num_query_per_class=100,
                      num_train_per_class=100, database='rest')
train_dataloader = dict(
    num_workers=0,
    dataset=dict(protocol=dict(_delete_=True, **small_protocol)))
val_dataloader = dict(
    num_workers=0,
    dataset=dict(
        query=dict(protocol=dict(_delete_=True, **small_protocol)),
        database=dict(protocol=dict(_delete_=True, **small_protocol))))
test_dataloader = val_dataloader
