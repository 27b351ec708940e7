# DSH-GANs on NUS-WIDE-21 [I]: multi-hot conditioning (a label set is
# embedded as the mean of its labels' embeddings), sigmoid (BCE)
# classification streams, negatives with no shared concept drawn from
# the batch's real label sets; 64 px GAN, ResNet-50 hashing CNN at 224
# px; 10,500 labelled images, the rest of the database unlabelled;
# mAP@5000 over 2,100 queries. Needs the NUS-WIDE images and list files
# (configs/_base_/datasets/nuswide21_list.py); not available here.
_base_ = [
    './_base_/semi_nuswide21.py',
    './_base_/dsh_gans_r50.py',
]
num_bits = 48
num_classes = 21
image_size = 64
model = dict(
    generator=dict(out_size=image_size, num_classes=num_classes),
    discriminator=dict(in_size=image_size, num_classes=num_classes),
    hasher=dict(head=dict(num_bits=num_bits), num_classes=num_classes),
    multi_label=True,
    losses=dict(classification=dict(multi_label=True)),
    generator_losses=dict(classification=dict(multi_label=True)))
