# TAH-A (paper Table 3): TAH without the adversarial module and without
# the unlabelled target data, i.e. the same network and source losses
# trained on labelled MNIST only; evaluated on USPS as TAH. See
# tah_lenet5_mnist2usps_16bit.py for everything else.
_base_ = ['./tah_lenet5_mnist2usps_16bit.py']

model = dict(transfer_heads=dict(_delete_=True))
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='pseudo_collate'),
    dataset=dict(
        _delete_=True,
        type='MNISTHashing',
        data_root='data/mnist',
        split='train',
        protocol='a',
        seed=0,
        three_channels=False,
        domain_id=0,
        pipeline={{_base_.pipeline}}))
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
