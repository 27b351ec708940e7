# Ablation of the CPU-scale config: the same CNN (three streams, same
# data, schedule and optimizer) trained on real images only
# (RealTripletHasher): the triplet loss over every valid triplet of the
# labelled batch plus the classification loss; no synthetic images, no G
# or D, unlabelled images unused. 400 iterations: as many CNN updates on
# the same labelled batches as the joint stage of DSH-GANs.
_base_ = ['./dsh-gans_r18s_cifar10-500pc_32px_12bit_cpu.py']
model = dict(
    _delete_=True,
    type='RealTripletHasher',
    data_preprocessor={{_base_.model.data_preprocessor}},
    hasher={{_base_.model.hasher}},
    losses=dict(
        triplet=dict(type='TripletRankingLoss', margin=1.0),
        classification=dict(type='MultiHotClassificationLoss')))
optim_wrapper = dict(
    _delete_=True,
    optimizer={{_base_.optim_wrapper.hasher.optimizer}})
model_wrapper_cfg = dict(
    _delete_=True, type='MMDistributedDataParallel',
    find_unused_parameters=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
train_cfg = dict(max_iters=400, val_interval=400)
