# ganreg stage 2 (Geng et al. 2018, spec §5.2) method parts; not a complete
# config (the leaves add backbone, data, code length, schedule):
#  - GANRegularizedHasher: one forward over real + fake images, split by
#    the samples' is_fake tag;
#  - real images: triplet ranking loss over all batch triplets (the
#    authors' group's DNNH/NINH loss [I]: sigmoid codes, margin 1);
#  - fake images: maximum-entropy loss, uniform-target per-bit cross
#    entropy (spec §5.2 reading (a) [I]), weight lambda = 1 [?];
#  - 1 fake per real image in every batch [?].
# (Plain variables, so that this file combines with any model base.)
head_activation = 'sigmoid'
supervised_losses = dict(
    triplet=dict(type='TripletRankingLoss', margin=1.0, loss_weight=1.0))
fake_loss = dict(type='MaxEntropyLoss', mode='uniform_ce',
                 code_range='sigmoid', loss_weight=1.0)
fakes_per_real = 1
