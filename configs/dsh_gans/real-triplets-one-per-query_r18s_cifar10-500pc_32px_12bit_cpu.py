# The second real-triplet control: one sampled real triplet per labelled
# query (a positive sharing a label, a negative sharing none, both from
# the batch): as many triplets per batch as DSH-GANs' real-synthetic
# triplets, at the same CNN budget.
_base_ = ['./real-triplets_r18s_cifar10-500pc_32px_12bit_cpu.py']
model = dict(losses=dict(triplet=dict(_delete_=True,
                                      type='SampledTripletLoss',
                                      margin=1.0)))
