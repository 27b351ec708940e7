# TAH-t (paper Table 3): TAH with the t-distribution pairwise loss replaced
# by DHN's inner-product pairwise cross-entropy (theta_ij = z_i.z_j / 2, all
# ordered source pairs); adversarial part and quantization kept. See
# tah_resnet18w16_pacs-photo2cartoon_16bit.py for everything else.
_base_ = ['./tah_resnet18w16_pacs-photo2cartoon_16bit.py']

model = dict(head=dict(losses=dict(pairwise={{_base_.dhn_pairwise}})))
