# DADH (Li, Zhang, Lu, Zhang, arXiv 1801.08360; IEEE Access 2019): the
# method-level settings every DADH config shares. Configs add the two
# streams (any mmpretrain backbone + a HashHead with activation='identity'),
# num_classes, one optimizer per stream, the dataset and the schedule.
# Tags: [TC] third-party code, [I] reconstruction; configs/dadh/README.md.
_base_ = ['../../_base_/default_runtime.py']

model = dict(
    type='DualAsymmetricHasher',
    # Cross-stream likelihood, Theta = 1/2 tanh(F)^T tanh(G); tau = 10 [TC].
    pair_loss=dict(
        type='AsymmetricPairwiseLogisticLoss', scale=0.5, loss_weight=10.),
    # Features <-> codes: (tanh(F)^T B - k T)^2 with the 'balanced' targets
    # (DeepHash-pytorch ADSH's soft constraint [TC]): with the spec's {+-1}
    # targets the codes collapse on 10 classes (README). mu = 1 [I].
    code_loss=dict(
        type='AsymmetricInnerProductLoss', similarity='balanced',
        loss_weight=1.),
    # gamma ||F - B||^2, gamma = 100 [TC], on the pre-activation F [I].
    gap_loss=dict(type='FeatureCodeGapLoss', loss_weight=100.),
    # eta ||F 1||^2 over all N rows; eta = 1 (the third-party code has 10;
    # 1 from a short pilot, README) [I].
    balance_loss=dict(type='BitBalanceLoss', loss_weight=1.),
    tanh_in_gap=False,
    loss_normalization='objective',
    # {f epoch; g epoch; B-step}: the spec's outer loop [I].
    alternation='epoch',
    alternation_period=1,
    column_sample=None,
    query_code='sum',
    database_code='sum',
    learned_database_codes=False)

custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    # B-step after every second epoch, i.e. after each f epoch + g epoch
    # pair: one DCC sweep over the bits [I].
    dict(type='DADHCodeUpdateHook', interval=2, method='dcc', sweeps=1),
]

# Two optimizers on one model: each stream is its own DDP module.
model_wrapper_cfg = dict(type='MMSeparateDistributedDataParallel')
