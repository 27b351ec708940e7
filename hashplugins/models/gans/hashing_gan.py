"""A GAN trained mmagic-style: discriminator steps, then generator steps."""
from typing import Dict, List, Optional

import torch
import torch.nn.functional as F
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..losses.utils import float32_loss
from .gan_utils import (ADV_LOSSES, adversarial_loss, gather_log_vars,
                        sample_noise, set_requires_grad, single_labels)

# Images enter the discriminator in [-1, 1], as the generator's tanh emits.
GAN_PREPROCESSOR = dict(
    type='ClsDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
    to_rgb=True)


@MODELS.register_module()
class HashingGAN(BaseModel):
    """Generator + discriminator trained with an :class:`OptimWrapperDict`.

    ``train_step`` follows mmagic's ``BaseGAN.train_step``:

    1. one discriminator step every iteration, on a real batch and as many
       fakes drawn with the generator frozen (``torch.no_grad``);
    2. when ``(iter + 1) % (disc_steps * accumulation) == 0``, the
       discriminator's parameters are frozen (:func:`set_requires_grad`)
       and the generator takes ``gen_steps`` steps on fresh fakes.

    So ``disc_steps`` discriminator updates precede each group of
    ``gen_steps`` generator updates. Losses (``adv_loss``):

    - D: ``L_adv(D(x), real) + L_adv(D(G(z, y')), fake)``
      (+ ``cls_loss_weight · [CE(c(x), y) + CE(c(G(z, y')), y')]`` for an
      auxiliary-classifier discriminator, the fake term if
      ``disc_cls_on_fakes``);
    - G: ``L_adv(D(G(z, y')), real)`` (+ ``cls_loss_weight · CE(c(G), y')``).

    ``y`` are the real images' labels and ``y'`` labels drawn uniformly
    for the fakes; both are used only by a class-conditional generator /
    discriminator (``num_classes`` set). Logged: ``loss_disc_real``,
    ``loss_disc_fake`` (``loss_disc_cls``) every iteration, ``loss_gen``
    (``loss_gen_cls``) on generator iterations.

    Under DDP use ``model_wrapper_cfg=dict(type=
    'MMSeparateDistributedDataParallel')``: each sub-module gets its own
    DDP and this ``train_step`` is called as is. Attributes the steps need
    are read here, never from the (then wrapped) sub-modules.

    Args:
        generator (dict): Generator config, e.g. ``DCGANGenerator``.
        discriminator (dict): Discriminator config, e.g.
            ``DCGANDiscriminator``.
        data_preprocessor (dict, optional): Defaults to
            :data:`GAN_PREPROCESSOR` (pixels to [-1, 1], BGR to RGB).
        adv_loss (str): ``'vanilla'`` (non-saturating) or ``'hinge'``.
            Defaults to 'vanilla'.
        noise_dist (str): ``'normal'`` or ``'uniform'``. Defaults to
            'normal'.
        disc_steps (int): Discriminator steps per generator phase.
            Defaults to 1.
        gen_steps (int): Generator steps per generator phase. Defaults to 1.
        cls_loss_weight (float): Weight of the auxiliary-classifier terms.
            Defaults to 1.
        disc_cls_on_fakes (bool): AC-GAN's fake-label classification term
            in the discriminator loss. Defaults to True.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: dict,
                 data_preprocessor: Optional[dict] = None,
                 adv_loss: str = 'vanilla',
                 noise_dist: str = 'normal',
                 disc_steps: int = 1,
                 gen_steps: int = 1,
                 cls_loss_weight: float = 1.,
                 disc_cls_on_fakes: bool = True,
                 init_cfg: Optional[dict] = None):
        data_preprocessor = MODELS.build(data_preprocessor or GAN_PREPROCESSOR)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if adv_loss not in ADV_LOSSES:
            raise ValueError(f'HashingGAN: adv_loss must be one of '
                             f'{ADV_LOSSES}, got {adv_loss!r}')
        for name, value in (('disc_steps', disc_steps), ('gen_steps',
                                                         gen_steps)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f'HashingGAN: {name} must be an int >= 1, '
                                 f'got {value!r}')
        self.generator = MODELS.build(generator)
        self.discriminator = MODELS.build(discriminator)
        g_classes = getattr(self.generator, 'num_classes', None)
        d_classes = getattr(self.discriminator, 'num_classes', None)
        if d_classes is not None and g_classes != d_classes:
            raise ValueError(
                f'HashingGAN: discriminator.num_classes={d_classes} but '
                f'generator.num_classes={g_classes}; a conditional '
                'discriminator needs a generator conditioned on the same '
                'classes')
        # Kept here: under MMSeparateDistributedDataParallel the
        # sub-modules are DDP wrappers without these attributes.
        self.noise_size = self.generator.noise_size
        self.num_classes = g_classes
        self.ac_discriminator = getattr(self.discriminator, 'conditioning',
                                        None) == 'ac'
        self.adv_loss = adv_loss
        self.noise_dist = noise_dist
        self.disc_steps = disc_steps
        self.gen_steps = gen_steps
        self.cls_loss_weight = cls_loss_weight
        self.disc_cls_on_fakes = disc_cls_on_fakes

    # ------------------------------------------------------------------
    # Sampling
    def _draw(self, draw, generator: Optional[torch.Generator]
              ) -> torch.Tensor:
        """``draw(device)`` on the generator's device (PyTorch refuses a
        CPU generator for CUDA tensors), moved to the model's device. A
        host generator thus gives the same numbers on every device."""
        device = self.data_preprocessor.device
        values = draw(device if generator is None else generator.device)
        return values.to(device)

    def noise(self, num: int, generator: Optional[torch.Generator] = None
              ) -> torch.Tensor:
        """``num`` noise vectors on the model's device, drawn with
        ``generator`` (on whatever device it lives) if given."""
        return self._draw(
            lambda device: sample_noise(num, self.noise_size,
                                        self.noise_dist, device, generator),
            generator)

    def random_labels(self, num: int,
                      generator: Optional[torch.Generator] = None
                      ) -> Optional[torch.Tensor]:
        """Uniform class labels for fakes (None if unconditional)."""
        if self.num_classes is None:
            return None
        return self._draw(
            lambda device: torch.randint(self.num_classes, (num, ),
                                         generator=generator, device=device),
            generator)

    def generate(self,
                 num: int,
                 labels: Optional[torch.Tensor] = None,
                 noise: Optional[torch.Tensor] = None
                 ) -> (torch.Tensor, Optional[torch.Tensor]):
        """Fakes ``G(z, y)`` (with gradients) and their labels ``y``."""
        noise = self.noise(num) if noise is None else noise
        if labels is None:
            labels = self.random_labels(num)
        return self.generator(noise, labels), labels

    @torch.no_grad()
    def sample(self,
               num: int,
               labels: Optional[torch.Tensor] = None,
               noise: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Images in [-1, 1] from the generator in eval mode (BN running
        statistics), its train/eval mode restored afterwards.

        Args:
            num (int): Number of images.
            labels (torch.Tensor, optional): (num,) conditioning labels;
                drawn uniformly when the generator is conditional.
            noise (torch.Tensor, optional): (num, noise_size) noise.
            generator (torch.Generator, optional): RNG for noise/labels.
        """
        if noise is None:
            noise = self.noise(num, generator)
        if labels is None:
            labels = self.random_labels(num, generator)
        was_training = self.generator.training
        self.generator.eval()
        try:
            return self.generator(noise, labels)
        finally:
            self.generator.train(was_training)

    # ------------------------------------------------------------------
    # Losses
    @float32_loss  # cross entropy of half-precision logits under AMP
    def _cls_loss(self, cls_logits, labels) -> torch.Tensor:
        return self.cls_loss_weight * F.cross_entropy(cls_logits, labels)

    def disc_loss(self, real: torch.Tensor,
                  real_labels: Optional[torch.Tensor]) -> dict:
        """Discriminator losses on a real batch and as many fakes."""
        with torch.no_grad():
            fake, fake_labels = self.generate(real.shape[0])
        logit_real, cls_real = self.discriminator(real, real_labels)
        logit_fake, cls_fake = self.discriminator(fake, fake_labels)
        losses = dict(
            loss_disc_real=adversarial_loss(logit_real, True, self.adv_loss),
            loss_disc_fake=adversarial_loss(logit_fake, False, self.adv_loss))
        if self.ac_discriminator:
            cls = self._cls_loss(cls_real, real_labels)
            if self.disc_cls_on_fakes:
                cls = cls + self._cls_loss(cls_fake, fake_labels)
            losses['loss_disc_cls'] = cls
        return losses

    def gen_loss(self, num: int) -> dict:
        """Generator losses on ``num`` fresh fakes."""
        fake, labels = self.generate(num)
        logit, cls_logits = self.discriminator(fake, labels)
        losses = dict(loss_gen=adversarial_loss(
            logit, True, self.adv_loss, for_generator=True))
        if self.ac_discriminator:
            losses['loss_gen_cls'] = self._cls_loss(cls_logits, labels)
        return losses

    def _real_labels(self, data_samples) -> Optional[torch.Tensor]:
        if self.num_classes is None:
            return None
        return single_labels(data_samples, 'HashingGAN',
                             self.data_preprocessor.device)

    # ------------------------------------------------------------------
    # Training
    def train_discriminator(self, real, real_labels,
                            optim_wrapper) -> Dict[str, torch.Tensor]:
        """One discriminator update; returns its log vars."""
        with optim_wrapper.optim_context(self.discriminator):
            losses = self.disc_loss(real, real_labels)
        parsed, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(parsed)
        return log_vars

    def train_generator(self, num: int,
                        optim_wrapper) -> Dict[str, torch.Tensor]:
        """One generator update with the discriminator's parameters frozen;
        returns its log vars (without the total ``loss``)."""
        set_requires_grad(self.discriminator, False)
        try:
            with optim_wrapper.optim_context(self.generator):
                losses = self.gen_loss(num)
            parsed, log_vars = self.parse_losses(losses)
            optim_wrapper.update_params(parsed)
        finally:
            set_requires_grad(self.discriminator, True)
        log_vars.pop('loss', None)
        return log_vars

    def is_generator_iter(self, curr_iter: int, disc_accumulation: int = 1
                          ) -> bool:
        """Whether iteration ``curr_iter`` (0-based) ends with G steps."""
        return (curr_iter + 1) % (self.disc_steps * disc_accumulation) == 0

    def train_step(self, data, optim_wrapper: OptimWrapperDict
                   ) -> Dict[str, torch.Tensor]:
        """Discriminator step, then ``gen_steps`` generator steps on every
        ``disc_steps``-th iteration (see the class docstring)."""
        curr_iter = MessageHub.get_current_instance().get_info('iter', 0)
        data = self.data_preprocessor(data, True)
        real = data['inputs']
        real_labels = self._real_labels(data['data_samples'])
        disc_wrapper = optim_wrapper['discriminator']
        log_vars = self.train_discriminator(real, real_labels, disc_wrapper)
        if self.is_generator_iter(curr_iter,
                                  disc_wrapper._accumulative_counts):
            gen_wrapper = optim_wrapper['generator']
            steps = self.gen_steps * gen_wrapper._accumulative_counts
            log_vars.update(gather_log_vars([
                self.train_generator(real.shape[0], gen_wrapper)
                for _ in range(steps)
            ]))
        return log_vars

    def forward(self,
                inputs: Optional[torch.Tensor] = None,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: ``inputs`` is noise (N, noise_size) and fakes are
        returned; ``'predict'``: one fake per data sample, in
        ``sample.fake_img``. Training goes through :meth:`train_step`."""
        if mode == 'loss':
            raise RuntimeError('HashingGAN trains through train_step (an '
                               'OptimWrapperDict with generator and '
                               'discriminator), not forward(mode="loss")')
        if mode == 'tensor':
            return self.sample(inputs.shape[0], noise=inputs)
        if mode == 'predict':
            data_samples = data_samples or [DataSample()]
            labels = None
            if self.num_classes is not None:
                labels = self._real_labels(data_samples)
            fakes = self.sample(len(data_samples), labels=labels)
            for sample, img in zip(data_samples, fakes):
                sample.set_field(img, 'fake_img', field_type='data')
            return data_samples
        raise RuntimeError(f'Invalid mode "{mode}".')
