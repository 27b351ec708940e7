# TAH, VisDA-2017 real -> synthetic, 48 bits, as the released Caffe code trains it: the gradient
# reversal coefficient is 1 from the first iteration and never changes
# (thuml/TAH gradient_scaler_layer.cpp sets coeff_ = 1; the listener that
# would apply the ramp waits for a message nothing sends) [OC]. The ramp
# lambda_p = 2/(1+exp(-10p)) - 1 of the other TAH configs is the paper's
# [P]. Everything else as tah_alexnet_visda2017-real2syn_48bit.py.
_base_ = ['./tah_alexnet_visda2017-real2syn_48bit.py']

model = dict(transfer_heads=dict(domain=dict(grl_coeff=1.0)))
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]  # no ramp hook
