# TAH's official Caffe solver (thuml/TAH models/train/*/solver.prototxt;
# spec/methods.md §2.2, §2.5) [OC]: SGD, momentum 0.9, weight decay 5e-4,
# lr x0.5 every 500 iterations, 10,000 iterations, base lr 2e-5 (VisDA; the
# NUS-WIDE config sets 2e-4).
#
# Caffe lr_mult/decay_mult of the train.prototxt, as paramwise_cfg:
#   pretrained layers (conv1-5, fc6, fc7): weights lr x1, biases lr x2 and
#     no weight decay -> bias_lr_mult / bias_decay_mult below;
#   hash layer fch: weights lr x10, biases lr x20, no bias decay;
#   domain discriminator (all three layers): weights lr x10, biases lr x20,
#     and no decay_mult, so its biases ARE weight-decayed.
# mmengine matches custom_keys as substrings of parameter names, longest
# key first, and a matched parameter ignores bias_lr_mult/bias_decay_mult;
# hence one key per bias. Keys that match nothing (no discriminator in a
# single-domain model) are harmless.
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=2e-5, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(
        bias_lr_mult=2.,
        bias_decay_mult=0.,
        custom_keys={
            'head.fc_hash.weight': dict(lr_mult=10.),
            'head.fc_hash.bias': dict(lr_mult=20., decay_mult=0.),
            'transfer_heads.domain.': dict(lr_mult=10.),
            'transfer_heads.domain.layers.fc1.bias': dict(lr_mult=20.),
            'transfer_heads.domain.layers.fc2.bias': dict(lr_mult=20.),
            'transfer_heads.domain.layers.fc_out.bias': dict(lr_mult=20.),
        }))
param_scheduler = dict(
    type='StepLR', by_epoch=False, step_size=500, gamma=0.5)

# Iteration-based, evaluated once at the end (the official test script runs
# on the final snapshot).
train_cfg = dict(type='IterBasedTrainLoop', max_iters=10000,
                 val_interval=10000)
val_cfg = dict()
test_cfg = dict()

# Iteration-based logging (configs also set default_hooks.checkpoint to
# by_epoch=False; default_hooks live in default_runtime.py).
log_processor = dict(by_epoch=False)
