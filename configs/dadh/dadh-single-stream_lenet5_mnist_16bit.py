# Single-stream ablation of DADH: dadh_lenet5_mnist_16bit.py with stream g
# removed. The cross-stream likelihood then pairs stream f with its own
# buffered outputs; B, the code <-> feature term, the gap, the balance term
# and the B-step (after every epoch) are unchanged. Same backbone, data,
# epochs and optimizer: half DADH's network passes (DADH trains both
# streams on every batch); the equal-compute ablation is
# dadh-single-stream-20e_lenet5_mnist_16bit.py.
_base_ = ['./dadh_lenet5_mnist_16bit.py']

model = dict(stream_g=None)
optim_wrapper = dict(
    _delete_=True,
    constructor='MultiOptimWrapperConstructor',
    stream_f={{_base_.stream_optim}})
