import math

import pytest
import torch

from sslib.data import render3d


def test_random_rotations_are_rotations():
    r = render3d.random_rotations(50, torch.Generator().manual_seed(0))
    eye = torch.eye(3).expand(50, 3, 3)
    torch.testing.assert_close(r @ r.transpose(1, 2), eye, atol=1e-5, rtol=0)
    torch.testing.assert_close(torch.linalg.det(r), torch.ones(50), atol=1e-5, rtol=0)


def test_rotation_about_y_turns_x_towards_minus_z():
    q = render3d.rotation_about_y(math.pi / 2)
    torch.testing.assert_close(q @ torch.tensor([1.0, 0, 0]), torch.tensor([0, 0, -1.0]))
    torch.testing.assert_close(q @ torch.tensor([0, 1.0, 0]), torch.tensor([0, 1.0, 0]))


def test_sphere_renders_to_a_disc_of_its_radius():
    size = 64
    image = render3d.render("sphere", torch.eye(3)[None], size)[0, 0]
    centres = (torch.arange(size) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(-centres, centres, indexing="ij")
    disc = x**2 + y**2 < 0.8**2
    boundary = ((x**2 + y**2).sqrt() - 0.8).abs() < 2 / size  # pixels the edge cuts through
    assert torch.equal((image > 0)[~boundary], disc[~boundary])
    # the brightest point faces the light, which comes from the upper left
    row, col = divmod(int(image.argmax()), size)
    assert row < size // 2 and col < size // 2


def test_axis_aligned_cube_renders_to_a_square_face():
    size = 50
    image = render3d.render("cube", torch.eye(3)[None], size)[0, 0]
    centres = (torch.arange(size) + 0.5) / size * 2 - 1
    y, x = torch.meshgrid(-centres, centres, indexing="ij")
    square = (x.abs() < 0.52) & (y.abs() < 0.52)
    boundary = ((x.abs() - 0.52).abs() < 2 / size) | ((y.abs() - 0.52).abs() < 2 / size)
    assert torch.equal((image > 0)[~boundary], square[~boundary])
    face = image[square & ~boundary]
    torch.testing.assert_close(face, face[0].expand_as(face))  # one flat face: one shade


def test_symmetries_render_identically():
    quarter = render3d.rotation_about_y(math.pi / 2)[None]
    cube = render3d.render("cube", torch.cat([torch.eye(3)[None], quarter]), 32)
    torch.testing.assert_close(cube[0], cube[1], atol=1e-3, rtol=0)  # a cube's own symmetry
    r = render3d.random_rotations(4, torch.Generator().manual_seed(1))
    spheres = render3d.render("sphere", r, 32)
    torch.testing.assert_close(spheres, spheres[:1].expand_as(spheres), atol=1e-3, rtol=0)


def test_depth_of_the_sphere_front():
    depth = render3d.render("sphere", torch.eye(3)[None], 32, depth=True)[0, 0]
    assert abs(float(depth[15:17, 15:17].mean()) + 0.8) < 0.01  # front surface near z = -0.8
    assert torch.isnan(depth[0, 0])  # a corner ray misses


@pytest.mark.parametrize("shape", render3d.SHAPES)
def test_every_shape_renders_inside_the_frame(shape):
    image = render3d.render(shape, render3d.random_rotations(3), 32)
    assert image.shape == (3, 1, 32, 32)
    assert 0 <= image.min() and image.max() <= 1
    assert (image > 0).any() and (image[..., 0, :] == 0).all()  # nothing touches the border


def test_render_set_is_labelled_and_deterministic():
    images, labels, rots = render3d.render_set(2, size=16, seed=3)
    assert images.dtype == torch.uint8 and images.shape == (12, 1, 16, 16)
    assert labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5] and rots.shape == (12, 3, 3)
    again = render3d.render_set(2, size=16, seed=3)[0]
    assert torch.equal(images, again)


def test_errors():
    with pytest.raises(ValueError, match="unknown shape"):
        render3d.render("teapot", torch.eye(3)[None])
    with pytest.raises(ValueError, match=r"\(B, 3, 3\)"):
        render3d.render("cube", torch.eye(3))
