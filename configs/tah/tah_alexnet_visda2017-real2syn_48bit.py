# TAH on VisDA-2017 real -> synthetic, 48 bits: labelled real images
# (source), unlabelled synthetic images (target), queries and database from
# the synthetic domain. Official models/train/real/train.prototxt [OC]:
# quantization weight 0.8, domain weight 1.0 (pairwise prototxt weight 10,
# ineffective in the official backward, so 1 here). Everything else as
# tah_alexnet_visda2017-syn2real_48bit.py.
_base_ = ['./tah_alexnet_visda2017-syn2real_48bit.py']

model = dict(
    head=dict(losses=dict(quant=dict(loss_weight=0.8))),
    transfer_heads=dict(domain=dict(loss_weight=1.0)))

train_dataloader = dict(
    dataset=dict(
        source=dict(
            data_prefix='validation', ann_file='lists/real_train.txt'),
        target=dict(
            data_prefix='train', ann_file='lists/synthetic_train.txt')))
val_dataloader = dict(
    dataset=dict(
        query=dict(
            data_prefix='train', ann_file='lists/synthetic_query.txt',
            domain_id=1),
        database=dict(
            data_prefix='train', ann_file='lists/synthetic_database.txt',
            domain_id=1)))
test_dataloader = val_dataloader
