# PACS domain 'cartoon'; everything else as in pacs_photo.py.
_base_ = ['./pacs_photo.py']

domain = 'cartoon'
train_dataloader = dict(dataset=dict(domain=domain))
val_dataloader = dict(
    dataset=dict(query=dict(domain=domain), database=dict(domain=domain)))
test_dataloader = val_dataloader
