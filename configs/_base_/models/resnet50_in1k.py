# ResNet-50 pretrained on ImageNet-1k (mmpretrain model zoo), as a variable
# that model bases put into their own model dicts ({{_base_.resnet50_in1k}}).
# The checkpoint URL is fetched by mmengine at build time; tests never do.
resnet50_in1k = dict(
    type='ResNet',
    depth=50,
    num_stages=4,
    out_indices=(3, ),
    style='pytorch',
    init_cfg=dict(
        type='Pretrained',
        checkpoint='https://download.openmmlab.com/mmclassification/v0/'
        'resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth',
        prefix='backbone'))
