# METAH's two parts (spec/methods.md §3; abstract only, so reconstructed),
# as variables: a METAH config inherits a TAH config for everything else,
# and mmengine refuses a key (model, custom_hooks) set by two bases, so the
# leaves place these into their own model / optim_wrapper / custom_hooks.
#  - semantic preservation: a linear classifier on the continuous codes
#    (softmax; sigmoid with multi_label=True), cross-entropy on the source
#    labels, weight alpha = 1 [?]; in_channels / num_classes come from the
#    hash head (TransferHasher);
#  - min-entropy: mean entropy of the classifier's responses to the target
#    codes, weight beta = 0.1 [?], ramped with the RevGrad schedule
#    2/(1+exp(-10p))-1 over the whole run [I] (early entropy minimisation
#    collapses the predictions);
#  - the classifier learns at lr x10 like the other new layers (fch and the
#    discriminator) [I].
semantic_head = dict(
    type='CodeClassifierHead',
    hidden_channels=(),
    multi_label=False,
    cls_weight=1.0,
    ent_weight=0.1)
semantic_lr_keys = {'transfer_heads.semantic.': dict(lr_mult=10.)}
# horizon=None: the ramps span the run (train_cfg.max_iters)
entropy_ramp_hook = dict(
    type='RampScheduleHook', module='transfer_heads.semantic',
    attribute='ent_ramp', alpha=10., horizon=None)
metah_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='GradientReversalScheduleHook', alpha=10., horizon=None),
    entropy_ramp_hook,
]
