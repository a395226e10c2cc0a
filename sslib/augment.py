"""Batched random views, computed on the tensor's own device.

Every function takes a float batch ``x`` of shape ``(B, C, H, W)`` with values in [0, 1] and
draws *one random setting per image* (torchvision's v2 transforms draw one setting per call,
which would give every image in a batch the same crop). Randomness comes from an optional
``torch.Generator`` so a view is reproducible; with ``generator=None`` the global torch RNG is
used (``train.fit`` checkpoints it, so resumed runs draw the same views). Explained in the
contrastive-learning chapter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF


def _uniform(n: int, low: float, high: float, x: torch.Tensor, generator) -> torch.Tensor:
    """``n`` uniform draws in [low, high) on ``x``'s device."""
    if generator is None:
        u = torch.rand(n, device=x.device)
    else:
        u = torch.rand(n, generator=generator, device=generator.device).to(x.device)
    return low + (high - low) * u


def _coin(n: int, p: float, x: torch.Tensor, generator) -> torch.Tensor:
    """Boolean mask of shape ``(n,)``: each entry True with probability ``p``."""
    return _uniform(n, 0.0, 1.0, x, generator) < p


def _check(x: torch.Tensor) -> None:
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(
            f"augmentations take float images (B, C, H, W) in [0, 1], got {x.dtype} "
            f"{tuple(x.shape)}; convert uint8 batches with sslib.data.to_float"
        )


def random_resized_crop(
    x: torch.Tensor,
    size: int | None = None,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Crop a random area fraction and aspect ratio of each image, resize to ``size``.

    The crop is an affine sampling grid (one ``grid_sample`` call for the whole batch), so it
    costs the same for 1 or 10,000 images.

    Shape:
        ``(B, C, H, W) -> (B, C, size, size)`` (``size`` defaults to ``H``).
    """
    _check(x)
    b, c, h, w = x.shape
    size = size or h
    area = _uniform(b, *scale, x, generator)
    log_ratio = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), x, generator)
    aspect = torch.exp(log_ratio)
    # Width and height as fractions of the image; clamp so the crop stays inside.
    cw = torch.sqrt(area * aspect).clamp(max=1.0)
    ch = torch.sqrt(area / aspect).clamp(max=1.0)
    # Centres in normalised [-1, 1] coordinates, anywhere the crop fits.
    cx = _uniform(b, -1.0, 1.0, x, generator) * (1 - cw)
    cy = _uniform(b, -1.0, 1.0, x, generator) * (1 - ch)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 2] = cw, cx
    theta[:, 1, 1], theta[:, 1, 2] = ch, cy
    grid = F.affine_grid(theta, (b, c, size, size), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def horizontal_flip(
    x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    _check(x)
    flip = _coin(len(x), p, x, generator).view(-1, 1, 1, 1)
    return torch.where(flip, x.flip(-1), x)


def _grey(x: torch.Tensor) -> torch.Tensor:
    """Luma, shape ``(B, 1, H, W)``; the image itself if it has one channel."""
    return x if x.shape[1] == 1 else TF.rgb_to_grayscale(x, num_output_channels=1)


def _rotate_hue(x: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate the chroma of RGB images by ``angle`` radians (per image) in YIQ space.

    A rotation of the (I, Q) plane is the linear version of a hue shift: cheap, batched and
    differentiable, and close to HSV hue jitter for the small angles used in practice.
    """
    rgb_to_yiq = x.new_tensor(
        [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]]
    )
    yiq = torch.einsum("ij,bjhw->bihw", rgb_to_yiq, x)  # b = batch, i/j = channels
    cos, sin = torch.cos(angle).view(-1, 1, 1), torch.sin(angle).view(-1, 1, 1)
    i, q = yiq[:, 1], yiq[:, 2]
    yiq = torch.stack([yiq[:, 0], cos * i - sin * q, sin * i + cos * q], dim=1)
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(rgb_to_yiq), yiq)


def color_jitter(
    x: torch.Tensor,
    brightness: float = 0.4,
    contrast: float = 0.4,
    saturation: float = 0.4,
    hue: float = 0.1,
    p: float = 0.8,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Random brightness, contrast, saturation and hue, per image, with probability ``p``.

    Factors are drawn uniformly from ``[1 - s, 1 + s]`` (hue: a shift in ``[-hue, hue]`` of a
    full turn), as in torchvision's ``ColorJitter``; they are applied in that fixed order.
    Saturation and hue are skipped for one-channel images.
    """
    _check(x)
    b = len(x)
    on = _coin(b, p, x, generator).view(-1, 1, 1, 1)
    out = x
    if brightness:
        out = out * _uniform(b, 1 - brightness, 1 + brightness, x, generator).view(-1, 1, 1, 1)
        out = out.clamp(0, 1)
    if contrast:
        factor = _uniform(b, 1 - contrast, 1 + contrast, x, generator).view(-1, 1, 1, 1)
        mean = _grey(out).mean(dim=(1, 2, 3), keepdim=True)
        out = ((out - mean) * factor + mean).clamp(0, 1)
    if x.shape[1] == 3 and saturation:
        factor = _uniform(b, 1 - saturation, 1 + saturation, x, generator).view(-1, 1, 1, 1)
        grey = _grey(out)
        out = ((out - grey) * factor + grey).clamp(0, 1)
    if x.shape[1] == 3 and hue:
        angle = 2 * math.pi * _uniform(b, -hue, hue, x, generator)
        out = _rotate_hue(out, angle).clamp(0, 1)
    return torch.where(on, out, x)


def random_grayscale(
    x: torch.Tensor, p: float = 0.2, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Replace each RGB image by its luma (kept as 3 channels) with probability ``p``."""
    _check(x)
    if x.shape[1] == 1:
        return x
    on = _coin(len(x), p, x, generator).view(-1, 1, 1, 1)
    return torch.where(on, _grey(x).expand_as(x), x)


def gaussian_blur(
    x: torch.Tensor,
    sigma: tuple[float, float] = (0.1, 2.0),
    p: float = 0.5,
    kernel_size: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Blur each image with a Gaussian of random width (pixels), with probability ``p``.

    One separable convolution for the whole batch: each image gets its own kernel through a
    grouped convolution over the ``B * C`` channels.
    """
    _check(x)
    b, c, h, w = x.shape
    if kernel_size is None:  # about 10% of the image, odd, as in SimCLR
        kernel_size = max(3, (h // 10) | 1)
    radius = kernel_size // 2
    s = _uniform(b, *sigma, x, generator).view(-1, 1)
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * s**2))
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (B, k)
    kernel = kernel.repeat_interleave(c, dim=0)  # (B * C, k)
    flat = x.reshape(1, b * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="reflect")
    flat = F.conv2d(flat, kernel.view(b * c, 1, 1, -1), groups=b * c)  # along width
    flat = F.conv2d(flat, kernel.view(b * c, 1, -1, 1), groups=b * c)  # along height
    blurred = flat.view(b, c, h, w)
    on = _coin(b, p, x, generator).view(-1, 1, 1, 1)
    return torch.where(on, blurred, x)


def gaussian_noise(
    x: torch.Tensor, std: float = 0.1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add independent Gaussian noise of standard deviation ``std``, clipped to [0, 1]."""
    _check(x)
    if generator is None:
        noise = torch.randn_like(x)
    else:
        noise = torch.randn(x.shape, generator=generator, device=generator.device).to(x)
    return (x + std * noise).clamp(0, 1)


def random_affine(
    x: torch.Tensor,
    degrees: float = 15.0,
    scale: tuple[float, float] = (0.8, 1.2),
    translate: float = 0.15,
    elastic: float = 0.04,
    grid: int = 4,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A random affine map of each image plus a smooth elastic displacement, one ``grid_sample``.

    Each image gets its own rotation in ``[-degrees, degrees]``, isotropic scale in ``scale``
    and shift in ``[-translate, translate]`` (a fraction of the half-width, i.e. of the
    normalised [-1, 1] coordinates). The elastic part draws a ``grid x grid`` lattice of
    N(0, elastic^2) offsets (normalised coordinates), upsamples it bicubically to the image and
    adds it to the sampling grid: a smooth warp of the strokes, like a different hand writing
    the same digit (Simard et al., 2003, in a cheaper form). Pixels mapped from outside the
    image are 0 (background), as for digits.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """
    _check(x)
    b, c, h, w = x.shape
    angle = _uniform(b, -degrees, degrees, x, generator) * (math.pi / 180)
    zoom = _uniform(b, *scale, x, generator)
    shift = _uniform(2 * b, -translate, translate, x, generator).view(b, 2)
    # affine_grid maps output coordinates to input ones: the inverse of "zoom by s" is 1/s.
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
    ).to(x.dtype)  # (B, 2, 3)
    coords = F.affine_grid(theta, (b, c, h, w), align_corners=False)  # (B, H, W, 2)
    if elastic > 0:
        if generator is None:
            lattice = torch.randn(b, 2, grid, grid, device=x.device)
        else:
            lattice = torch.randn(b, 2, grid, grid, generator=generator, device=generator.device)
        offsets = F.interpolate(
            elastic * lattice.to(x), size=(h, w), mode="bicubic", align_corners=True
        )  # (B, 2, H, W), smooth
        coords = coords + offsets.permute(0, 2, 3, 1)
    return F.grid_sample(x, coords, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_erasing(
    x: torch.Tensor,
    p: float = 0.5,
    max_side: float = 0.35,
    value: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """With probability ``p``, fill one random rectangle of each image with ``value``.

    Each side of the rectangle is uniform in ``[0, max_side]`` of the image's side and its
    position uniform where it fits (Zhong et al., 2020, with a simpler size law).

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``.
    """
    _check(x)
    b, _, h, w = x.shape
    eh = _uniform(b, 0.0, max_side, x, generator) * h  # (B,) heights in pixels
    ew = _uniform(b, 0.0, max_side, x, generator) * w
    top = _uniform(b, 0.0, 1.0, x, generator) * (h - eh)
    left = _uniform(b, 0.0, 1.0, x, generator) * (w - ew)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (
        (rows >= top.view(b, 1, 1))
        & (rows < (top + eh).view(b, 1, 1))
        & (cols >= left.view(b, 1, 1))
        & (cols < (left + ew).view(b, 1, 1))
    )  # (B, H, W)
    erase = inside & _coin(b, p, x, generator).view(b, 1, 1)
    return x.masked_fill(erase.unsqueeze(1), value)


def rotate90(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Rotate image ``i`` by ``k[i]`` quarter turns counter-clockwise.

    Shape:
        ``x``: ``(B, C, H, H)`` (square images); ``k``: ``(B,)`` integers in 0..3.
    """
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotate90 needs square images, got {tuple(x.shape[-2:])}")
    if k.shape != (len(x),):
        raise ValueError(f"k must have shape ({len(x)},), got {tuple(k.shape)}")
    k = k.to(x.device) % 4
    out = x.clone()
    for quarter in (1, 2, 3):
        idx = k == quarter
        if idx.any():
            out[idx] = torch.rot90(x[idx], quarter, dims=(-2, -1))
    return out


@dataclass
class Views:
    """A SimCLR-style view pipeline: crop-resize, flip, colour jitter, greyscale, blur, noise.

    Call it on a float batch to get one random view per image; call it twice for two views.
    Set a probability or strength to 0 to switch a step off. Defaults follow SimCLR
    (Chen et al., 2020) for colour images; :meth:`for_digits` gives the setting for greyscale
    digits, where flips and hue make no sense.
    """

    size: int | None = None
    crop_scale: tuple[float, float] = (0.08, 1.0)
    flip: float = 0.5
    jitter: float = 0.8  # probability of colour jitter
    strength: float = 1.0  # colour-jitter strength s: (0.8s, 0.8s, 0.8s, 0.2s)
    grayscale: float = 0.2
    blur: float = 0.5
    noise: float = 0.0

    @classmethod
    def for_digits(cls, size: int | None = None) -> Views:
        """Views for greyscale digits: crops, contrast/brightness, a little noise."""
        return cls(
            size=size,
            crop_scale=(0.3, 1.0),
            flip=0.0,
            strength=0.5,
            grayscale=0.0,
            blur=0.0,
            noise=0.05,
        )

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One random view of each image in ``x`` (float, ``(B, C, H, W)``, in [0, 1])."""
        s = self.strength
        x = random_resized_crop(x, self.size, self.crop_scale, generator=generator)
        if self.flip:
            x = horizontal_flip(x, self.flip, generator)
        if self.jitter and s:
            x = color_jitter(x, 0.8 * s, 0.8 * s, 0.8 * s, 0.2 * s, self.jitter, generator)
        if self.grayscale:
            x = random_grayscale(x, self.grayscale, generator)
        if self.blur:
            x = gaussian_blur(x, p=self.blur, generator=generator)
        if self.noise:
            x = gaussian_noise(x, self.noise, generator)
        return x


@dataclass
class AffineViews:
    """Views for digits: random affine + elastic warp, random erasing, Gaussian noise.

    The calibrated pipeline of the book's quick budget (chapters 1 to 3): a digit's identity
    survives a small rotation, rescaling, shift and warp of its strokes, a missing piece and
    pixel noise, so two views share the class and little else. Set a strength or probability
    to 0 to switch a step off (chapter 3's augmentation ablation does).
    """

    degrees: float = 15.0
    scale: tuple[float, float] = (0.8, 1.2)
    translate: float = 0.15
    elastic: float = 0.04
    erase: float = 0.5  # probability of erasing a rectangle
    erase_max_side: float = 0.35
    noise: float = 0.1

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One random view of each image in ``x`` (float, ``(B, C, H, W)``, in [0, 1])."""
        x = random_affine(
            x, self.degrees, self.scale, self.translate, self.elastic, generator=generator
        )
        if self.erase:
            x = random_erasing(x, self.erase, self.erase_max_side, generator=generator)
        if self.noise:
            x = gaussian_noise(x, self.noise, generator)
        return x.clamp(0, 1)


VIEWS = {"crops": Views, "digit_crops": Views.for_digits, "affine": AffineViews}


def make_views(name: str):
    """The view pipeline called ``name`` in ``VIEWS`` (how recipes name their views)."""
    if name not in VIEWS:
        raise ValueError(f"unknown views {name!r}; choose one of {sorted(VIEWS)}")
    return VIEWS[name]()


def default_views(channels: int):
    """The joint-embedding methods' augmentation when none is given, by channel count.

    :class:`~sslib.augment.AffineViews` for one-channel images (chapter 3's digit views),
    :class:`~sslib.augment.Views` (SimCLR's crops and colour) otherwise.
    """
    return AffineViews() if channels == 1 else Views()
