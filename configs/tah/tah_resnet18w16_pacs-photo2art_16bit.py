# TAH, PACS photo -> art_painting, 16 bits: as the photo -> cartoon
# config with art_painting (2,048 images: 140 queries, 1,908 database, 700
# unlabelled training images) as the target domain.
_base_ = ['./tah_resnet18w16_pacs-photo2cartoon_16bit.py']

target_domain = 'art_painting'
train_dataloader = dict(dataset=dict(target=dict(domain=target_domain)))
val_dataloader = dict(
    dataset=dict(
        query=dict(domain=target_domain),
        database=dict(domain=target_domain)))
test_dataloader = val_dataloader
