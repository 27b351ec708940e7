# Single-stream ablation of DADH at DADH's compute: the single stream of
# dadh-single-stream_lenet5_mnist_16bit.py trained for 20 epochs, i.e. as
# many network forward/backward passes as DADH's two streams in 10 epochs
# (cosine decay over the 20 epochs; B-step after every epoch, as DADH).
_base_ = ['./dadh-single-stream_lenet5_mnist_16bit.py']

param_scheduler = dict(T_max=20)
train_cfg = dict(max_epochs=20, val_interval=20)
