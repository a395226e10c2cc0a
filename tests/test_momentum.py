"""Momentum teachers: the frozen copy, BYOL's cosine schedule, the exponential average."""

import math

import pytest
import torch
import torch.nn as nn

from sslib.momentum import cosine_momentum, ema_update, frozen_copy


def test_frozen_copy_is_a_separate_untrainable_copy():
    student = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    teacher = frozen_copy(student)
    assert all(not p.requires_grad for p in teacher.parameters())
    assert all(p.requires_grad for p in student.parameters())
    with torch.no_grad():
        student[0].weight.add_(1.0)
    assert not torch.equal(teacher[0].weight, student[0].weight)


def test_cosine_momentum_rises_from_base_to_one():
    assert cosine_momentum(0, 100, 0.99) == pytest.approx(0.99)
    assert cosine_momentum(50, 100, 0.99) == pytest.approx(0.995)
    assert cosine_momentum(100, 100, 0.99) == pytest.approx(1.0)
    values = [cosine_momentum(s, 100, 0.9) for s in range(101)]
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    expected = 1 - 0.1 * (math.cos(math.pi * 0.3) + 1) / 2
    assert cosine_momentum(30, 100, 0.9) == pytest.approx(expected)
    with pytest.raises(ValueError, match="base"):
        cosine_momentum(0, 10, 1.5)


def test_ema_update_matches_the_formula_and_copies_buffers():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    teacher = frozen_copy(student)
    with torch.no_grad():
        for p in student.parameters():
            p.add_(torch.randn_like(p))
    student(torch.randn(8, 3))  # moves the student's running statistics
    before = [p.clone() for p in teacher.parameters()]
    ema_update(teacher, student, 0.9)
    for old, t, s in zip(before, teacher.parameters(), student.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * old + 0.1 * s)
    torch.testing.assert_close(teacher[1].running_mean, student[1].running_mean)
    ema_update(teacher, student, 0.0)
    for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
        torch.testing.assert_close(t, s)


def test_ema_update_rejects_a_mismatched_teacher():
    with pytest.raises(ValueError, match="frozen_copy"):
        ema_update(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), 0.5)
