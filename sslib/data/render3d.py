"""A tiny procedural 3D renderer: shaded images of simple solids under any rotation.

Each solid is a signed distance function (SDF) ``d(p)``: negative inside, positive outside,
and never larger than the true distance to the surface, so a ray can safely advance by
``d(p)`` (sphere tracing, Hart 1996). The camera is orthographic and looks along ``+z``; the
image plane spans ``[-1, 1]^2`` and every solid fits in the unit ball. A pixel shows the first
surface its ray meets, lit by a fixed light (Lambert shading) in the camera's frame, so the
shading, like the silhouette, changes with the object's orientation. Background pixels are 0.

Everything is batched torch code: ``render("torus", rotations)`` draws one image per rotation.
:func:`turntable` renders each object turned step by step about the vertical axis: the data of
chapter 1's 3D pretext task, the turn between two renders
(:class:`sslib.methods.pretext.relative_rotation.RelativeRotation3D`), with shape
classification downstream.
"""

from __future__ import annotations

import math

import torch

#: The solids :func:`render` knows, in label order.
SHAPES = ("sphere", "cube", "cylinder", "cone", "torus", "tetrahedron")

_LIGHT = torch.tensor([-0.4, 0.5, -1.0])  # towards the light: upper left, in front
_START = 1.0  # rays start on the plane z = -1: every solid lies in the unit ball
_FAR = 3.0  # past z = +1: the ray missed


def _sphere(p):
    return p.norm(dim=-1) - 0.8


def _cube(p):
    q = p.abs() - 0.52  # half side 0.52: the corners stay inside the unit ball
    outside = q.clamp(min=0).norm(dim=-1)
    inside = q.max(dim=-1).values.clamp(max=0)
    return outside + inside


def _cylinder(p):  # axis z, radius 0.45, half height 0.75
    d = torch.stack([p[..., :2].norm(dim=-1) - 0.45, p[..., 2].abs() - 0.75], dim=-1)
    return d.max(dim=-1).values.clamp(max=0) + d.clamp(min=0).norm(dim=-1)


def _cone(p):  # axis z, base radius 0.6 at z = -0.75, apex at z = +0.75
    height, radius = 0.75, 0.6
    slope = math.hypot(2 * height, radius)
    rad = radius * (height - p[..., 2]) / (2 * height)  # the cross-section's radius at z
    side = (p[..., :2].norm(dim=-1) - rad) * (2 * height / slope)  # distance to the side
    return torch.maximum(side, p[..., 2].abs() - height)  # a bound, fine for sphere tracing


def _torus(p):  # in the xy plane: major radius 0.6, minor radius 0.25
    q = torch.stack([p[..., :2].norm(dim=-1) - 0.6, p[..., 2]], dim=-1)
    return q.norm(dim=-1) - 0.25


def _tetrahedron(p):  # vertices at alternate corners of a cube of half side 0.55
    x, y, z = p.unbind(-1)
    faces = torch.stack([x + y + z, x - y - z, -x + y - z, -x - y + z], dim=-1)
    return (faces.max(dim=-1).values - 0.55) / math.sqrt(3)  # distance to the furthest plane


SDF = dict(zip(SHAPES, (_sphere, _cube, _cylinder, _cone, _torus, _tetrahedron), strict=True))


def random_rotations(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` rotation matrices drawn uniformly (Haar measure) from SO(3).

    A uniform random unit quaternion (a normalised 4-D Gaussian) gives a uniform rotation.

    Shape:
        ``(n, 3, 3)``.
    """
    q = torch.randn(n, 4, generator=generator)
    q = q / q.norm(dim=1, keepdim=True)
    w, x, y, z = q.unbind(1)
    return torch.stack(
        [
            torch.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], 1),
            torch.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], 1),
            torch.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], 1),
        ],
        dim=1,
    )


def rotation_about_y(angle: float | torch.Tensor) -> torch.Tensor:
    """The rotation by ``angle`` radians about the camera's vertical axis ``y``.

    Shape:
        scalar -> ``(3, 3)``; ``(n,)`` -> ``(n, 3, 3)``.
    """
    a = torch.as_tensor(angle, dtype=torch.float32)
    c, s, zero, one = torch.cos(a), torch.sin(a), torch.zeros_like(a), torch.ones_like(a)
    rows = [torch.stack([c, zero, s], -1), torch.stack([zero, one, zero], -1)]
    rows.append(torch.stack([-s, zero, c], -1))
    return torch.stack(rows, dim=-2)


def _normals(sdf, q: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Unit surface normals in the object's frame by central differences of the SDF."""
    offsets = eps * torch.eye(3, dtype=q.dtype)
    grad = torch.stack([sdf(q + o) - sdf(q - o) for o in offsets], dim=-1)
    return grad / grad.norm(dim=-1, keepdim=True).clamp(min=1e-12)


@torch.no_grad()
def render(
    shape: str, rotations: torch.Tensor, size: int = 32, steps: int = 32, depth: bool = False
) -> torch.Tensor:
    """Images of ``shape`` seen under each rotation: shading in [0, 1], background 0.

    The object is rotated by ``R`` (a point ``p`` of the object goes to ``R p``); a camera ray
    is traced in the object's frame by applying ``R^T`` to it.

    Args:
        shape: a name in :data:`SHAPES`.
        rotations: rotation matrices, shape ``(B, 3, 3)``.
        size: image side in pixels.
        steps: sphere-tracing steps per ray.
        depth: return the hit depth (``z`` in [-1, 1], ``nan`` off the object) instead.

    Returns:
        Float images, shape ``(B, 1, size, size)``; row 0 is the top of the image (``y = 1``).
    """
    if shape not in SDF:
        raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")
    sdf = SDF[shape]
    rotations = torch.as_tensor(rotations, dtype=torch.float32)
    if rotations.ndim != 3 or rotations.shape[1:] != (3, 3):
        raise ValueError(f"rotations must have shape (B, 3, 3), got {tuple(rotations.shape)}")
    b = len(rotations)
    centres = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1  # pixel centres
    ys, xs = torch.meshgrid(-centres, centres, indexing="ij")  # row 0 at the top (y = +1)
    origin = torch.stack([xs, ys, torch.full_like(xs, -_START)], dim=-1).view(1, -1, 3)
    # Object-frame rays: q = R^T p. Row vectors times R compute R^T p for every point.
    origin = origin @ rotations  # (B, P, 3)
    direction = torch.tensor([0.0, 0.0, 1.0]) @ rotations  # (B, 3): R^T e_z
    direction = direction.unsqueeze(1)  # (B, 1, 3)
    t = torch.zeros(b, size * size)
    for _ in range(steps):
        t = (t + sdf(origin + t.unsqueeze(-1) * direction)).clamp(max=_FAR)
    q = origin + t.unsqueeze(-1) * direction
    hit = sdf(q).abs() < 2e-2  # a converged ray; misses ran off to _FAR
    if depth:
        z = torch.where(hit, t - _START, torch.full_like(t, float("nan")))
        return z.view(b, 1, size, size)
    normal = _normals(sdf, q) @ rotations.transpose(1, 2)  # back to the camera frame: R n
    light = _LIGHT / _LIGHT.norm()
    lambert = (normal * light).sum(-1).clamp(min=0)  # n . l, with l pointing to the light
    image = torch.where(hit, 0.2 + 0.8 * lambert, torch.zeros_like(t))
    return image.view(b, 1, size, size)


def render_set(
    n_per_shape: int, size: int = 32, seed: int = 0, shapes=SHAPES
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``n_per_shape`` renders of each shape under uniformly random rotations.

    Returns:
        ``(images, labels, rotations)``: uint8 images ``(N, 1, size, size)``, shape labels
        ``(N,)`` (indices into ``shapes``) and the rotations ``(N, 3, 3)``, in shape order.
    """
    generator = torch.Generator().manual_seed(seed)
    images, labels, rots = [], [], []
    for label, shape in enumerate(shapes):
        r = random_rotations(n_per_shape, generator)
        images.append(render(shape, r, size))
        labels.append(torch.full((n_per_shape,), label, dtype=torch.long))
        rots.append(r)
    images = (torch.cat(images) * 255).round().to(torch.uint8)
    return images, torch.cat(labels), torch.cat(rots)


def turntable(
    n_per_shape: int, turns: int = 4, size: int = 32, seed: int = 0, shapes=SHAPES
) -> tuple[torch.Tensor, torch.Tensor]:
    """Renders of each shape from random orientations, each turned ``turns`` times.

    Entry ``[i, k]`` shows object ``i`` in its random orientation ``R_i`` followed by ``k``
    turns of ``360 / turns`` degrees about the camera's vertical axis: ``Q^k R_i``.

    Returns:
        ``(views, labels)``: uint8 ``(N, turns, 1, size, size)`` with ``N = n_per_shape *
        len(shapes)``, and the shape labels ``(N,)``.
    """
    generator = torch.Generator().manual_seed(seed)
    views, labels = [], []
    turn = rotation_about_y(2 * math.pi / turns)
    for label, shape in enumerate(shapes):
        r = random_rotations(n_per_shape, generator)
        per_turn = []
        for _ in range(turns):
            per_turn.append(render(shape, r, size))
            r = turn @ r  # one more turn about the camera's y axis
        views.append(torch.stack(per_turn, dim=1))
        labels.append(torch.full((n_per_shape,), label, dtype=torch.long))
    views = (torch.cat(views) * 255).round().to(torch.uint8)
    return views, torch.cat(labels)
