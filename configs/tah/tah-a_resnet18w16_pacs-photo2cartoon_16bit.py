# TAH-A (paper Table 3): no adversarial module and no unlabelled target
# data: the same network and source losses trained on labelled PACS photo
# only; evaluated on cartoon as TAH. See
# tah_resnet18w16_pacs-photo2cartoon_16bit.py for everything else.
_base_ = ['./tah_resnet18w16_pacs-photo2cartoon_16bit.py']

model = dict(transfer_heads=dict(_delete_=True))
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='pseudo_collate'),
    dataset=dict(
        _delete_=True,
        type='PACSDomain',
        data_root='data/pacs',
        domain='photo',
        split='all',
        domain_id=0,
        pipeline={{_base_.train_pipeline}}))
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
