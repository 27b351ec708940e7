# Ablation of the CPU-scale config: the same CNN (three streams, same
# data, schedule and optimizer) trained on real images only: the triplet
# loss over every valid triplet of the labelled batch plus the
# classification loss; no synthetic images, G and D never stepped. 400
# iterations: as many CNN updates on the same labelled batches as the
# joint stage of DSH-GANs.
_base_ = ['./dsh-gans_r18s_cifar10-500pc_32px_12bit_cpu.py']
model = dict(triplets='real', pretrain_iters=0)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
train_cfg = dict(max_iters=400, val_interval=400)
