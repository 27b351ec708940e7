# Short Adam schedule for small models trained from scratch (CPU configs).
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=1e-5))
param_scheduler = dict(type='CosineAnnealingLR', by_epoch=True, T_max=10)

train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=5)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=64)
