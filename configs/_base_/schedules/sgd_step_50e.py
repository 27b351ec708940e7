# SGD fine-tuning of an ImageNet-pretrained backbone with a new hash layer:
# the pretrained layers at the base lr, new layers (head) at 10x, as in the
# DPSH/TAH-era Caffe solvers (lr_mult 1 vs 10).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.001, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=10.)}))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 45], gamma=0.1)

train_cfg = dict(by_epoch=True, max_epochs=50, val_interval=10)
val_cfg = dict()
test_cfg = dict()

# For --auto-scale-lr: the lr above is for 1 GPU x batch 64.
auto_scale_lr = dict(base_batch_size=64)
