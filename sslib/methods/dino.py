"""DINO (Caron et al., 2021): self-distillation with no labels.

A student network (encoder and a head ending in K prototypes) is trained to match, on one
view, the output distribution that a momentum teacher gives the other view. The teacher's
output is *centred* (a running mean of its logits is subtracted, so that no prototype wins
every image) and *sharpened* (a low temperature, so that it does not go uniform); the loss is
:func:`~sslib.objectives.dino_loss`. The centre is a buffer, so :func:`sslib.train.fit`
checkpoints and resumes it with the networks.

Explained in chapter 7, *Learning without negatives*.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.distributed import global_mean
from sslib.methods.siamese import TwoViewMethod, spread
from sslib.momentum import cosine_momentum, ema_update, frozen_copy
from sslib.nets import ProjectionHead
from sslib.objectives import check_temperature, dino_loss


class DINOHead(nn.Module):
    """DINO's head: an MLP to a bottleneck, L2-normalised, then K unit-norm prototypes.

    The last layer's weights are normalised in the forward pass (DINO's weight-normalised
    layer with its norm fixed at 1, ``norm_last_layer``), so each logit is the cosine between
    the bottleneck and a prototype.

    Shape:
        ``(B, in_dim) -> (B, num_prototypes)``, logits in [-1, 1].
    """

    def __init__(
        self, in_dim: int, hidden_dim: int, bottleneck_dim: int, num_prototypes: int, layers=3
    ):
        super().__init__()
        if num_prototypes < 2:
            raise ValueError(f"num_prototypes must be >= 2, got {num_prototypes}")
        self.mlp = ProjectionHead(in_dim, hidden_dim, bottleneck_dim, layers)
        self.prototypes = nn.Parameter(torch.empty(num_prototypes, bottleneck_dim))
        nn.init.normal_(self.prototypes, std=1.0 / math.sqrt(bottleneck_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Prototype logits ``(B, num_prototypes)``."""
        z = F.normalize(self.mlp(h), dim=1)
        return z @ F.normalize(self.prototypes, dim=1).T


class DINO(TwoViewMethod):
    """Self-distillation: the student's softmax on one view matches the teacher's on the other.

    With two views, ``L = (H(t1, s2) + H(t2, s1)) / 2`` (:func:`~sslib.objectives.dino_loss`);
    after each loss the centre moves toward the mean of the teacher's logits over the
    global batch (every process's share under ``torchrun``),
    ``c <- m c + (1 - m) mean(t)``, and after each optimizer step the teacher follows the
    student with the cosine momentum schedule. Logs ``teacher_entropy`` (the mean entropy of
    the teacher's targets, nats: near 0 is a one-hot target, log K a uniform one),
    ``prototypes_used`` (how many prototypes are some image's argmax, out of K), ``z_std``
    of the student's logits, and ``momentum``.

    Explained in chapter 7, *Learning without negatives*.

    Args:
        encoder: ``f``, images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        views: the augmentation (default: by channel count).
        hidden_dim: the head MLP's hidden width (the paper: 2048).
        bottleneck_dim: the head's L2-normalised bottleneck (the paper: 256).
        num_prototypes: K, the output dimension (the paper: 65536).
        num_layers: linear layers in the head's MLP (the paper: 3).
        student_temperature: the student's softmax temperature (the paper: 0.1).
        teacher_temperature: the teacher's, lower, which sharpens (the paper: 0.04 to 0.07).
        center_momentum: m of the centre's moving average (the paper: 0.9).
        momentum_base: the teacher's momentum at step 0, rising to 1 (the paper: 0.996).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        views=None,
        hidden_dim: int = 512,
        bottleneck_dim: int = 128,
        num_prototypes: int = 256,
        num_layers: int = 3,
        student_temperature: float = 0.1,
        teacher_temperature: float = 0.04,
        center_momentum: float = 0.9,
        momentum_base: float = 0.996,
    ):
        super().__init__(encoder, views)
        check_temperature(student_temperature)
        check_temperature(teacher_temperature)
        if not 0.0 <= center_momentum < 1.0:
            raise ValueError(f"center_momentum must be in [0, 1), got {center_momentum}")
        cosine_momentum(0, 1, momentum_base)  # checks it is in [0, 1]
        self.head = DINOHead(
            encoder.out_dim, hidden_dim, bottleneck_dim, num_prototypes, num_layers
        )
        self.teacher_encoder = frozen_copy(encoder)
        self.teacher_head = frozen_copy(self.head)
        # a buffer: saved in state_dict (so fit checkpoints it), never trained
        self.register_buffer("center", torch.zeros(1, num_prototypes))
        self.student_temperature = student_temperature
        self.teacher_temperature = teacher_temperature
        self.center_momentum = center_momentum
        self.momentum_base = momentum_base
        self.momentum = momentum_base

    def loss(self, batch):
        """DINO's cross-entropy (nats) of two views of a batch ``(images,)`` or ``(..., labels)``.

        In training mode it also moves the centre (after computing the loss with the old one,
        as DINO's Algorithm 1 does).
        """
        x = self.two_views(batch)
        student = self.head(self.encoder(x)).float().chunk(2)  # 2 x (N, K)
        with torch.no_grad():
            teacher = self.teacher_head(self.teacher_encoder(x)).float()  # (2N, K)
        loss = dino_loss(
            student,
            teacher.chunk(2),
            self.center,
            self.student_temperature,
            self.teacher_temperature,
        )
        with torch.no_grad():
            targets = F.softmax((teacher - self.center) / self.teacher_temperature, dim=1)
            entropy = -(targets * targets.clamp_min(1e-12).log()).sum(1).mean()
            used = torch.tensor(float(teacher.argmax(1).unique().numel()))
            if self.training:
                self.update_center(teacher)
        metrics = {
            "teacher_entropy": entropy,
            "prototypes_used": used,
            "z_std": spread(student[0]),
            "momentum": self.momentum,
        }
        return loss, metrics

    @torch.no_grad()
    def update_center(self, teacher: torch.Tensor) -> None:
        """``c <- m c + (1 - m) mean(teacher)``, the mean over the *global* batch ``(N, K)``.

        Under ``torchrun`` every process adds its share's logits to one mean
        (:func:`~sslib.distributed.global_mean`, as DINO's code all-reduces them), so the
        centre is the same on every process and follows every image, not rank 0's share.
        """
        mean = global_mean(teacher)
        self.center.mul_(self.center_momentum).add_((1 - self.center_momentum) * mean)

    def after_step(self, step: int, total_steps: int) -> None:
        """Moves the teacher toward the student with the cosine momentum schedule."""
        self.momentum = cosine_momentum(step, total_steps, self.momentum_base)
        ema_update(self.teacher_encoder, self.encoder, self.momentum)
        ema_update(self.teacher_head, self.head, self.momentum)
