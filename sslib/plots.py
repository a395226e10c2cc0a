"""Figures the chapters share, so notebooks keep their cells short.

Each function draws on a matplotlib ``Axes`` (made if not given) and returns it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from sslib.data import to_float


def _axes(ax):
    return ax if ax is not None else plt.subplots(figsize=(5, 3.5))[1]


def image_grid(images, nrow: int = 8, ax=None, title: str | None = None):
    """Show a batch of images ``(B, C, H, W)`` (uint8 or float in [0, 1]) as one grid."""
    ax = _axes(ax)
    x = to_float(torch.as_tensor(images)).detach().cpu().clamp(0, 1)
    b, c, h, w = x.shape
    ncol = min(nrow, b)
    rows = -(-b // ncol)
    grid = torch.ones(c, rows * (h + 1) - 1, ncol * (w + 1) - 1)
    for i in range(b):
        r, q = divmod(i, ncol)
        grid[:, r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = x[i]
    if c == 1:
        ax.imshow(grid[0], cmap="gray_r" if x.mean() < 0.5 else "gray", vmin=0, vmax=1)
    else:
        ax.imshow(grid.permute(1, 2, 0))
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def curves(history, names, ax=None, xlabel: str = "step", smooth: int = 1):
    """Plot metrics of a :class:`~sslib.train.History` against the step."""
    ax = _axes(ax)
    for name in [names] if isinstance(names, str) else names:
        y = history[name]
        if smooth > 1:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="valid")
        ax.plot(history.step[len(history.step) - len(y) :], y, label=name)
    ax.set_xlabel(xlabel)
    ax.legend()
    return ax


def mi_estimates(
    step,
    estimate,
    true_mi,
    ax=None,
    title: str | None = None,
    ceiling: float | None = None,
    smooth: int = 1,
):
    """A mutual-information estimate over training against the true value (nats).

    ``ceiling`` draws a dashed line, e.g. InfoNCE's ``log N``.
    """
    ax = _axes(ax)
    estimate = np.asarray(estimate, dtype=float)
    ax.plot(step, estimate, color="C0", alpha=0.35 if smooth > 1 else 1, lw=0.8, label="estimate")
    if smooth > 1:
        kernel = np.ones(smooth) / smooth
        ax.plot(
            step[smooth - 1 :],
            np.convolve(estimate, kernel, mode="valid"),
            color="C0",
            label=f"moving mean ({smooth})",
        )
    ax.plot(step, true_mi, color="k", lw=1.5, label="true MI")
    if ceiling is not None:
        ax.axhline(ceiling, color="C3", ls="--", lw=1, label=f"log N = {ceiling:.2f}")
    ax.set_xlabel("step")
    ax.set_ylabel("nats")
    if title:
        ax.set_title(title)
    return ax


def mi_staircase(
    step,
    estimates: dict,
    true_mi,
    ceilings: dict | None = None,
    smooth: int = 1,
    axes=None,
    ylim: tuple[float, float] | None = None,
    title: str = "",
    ncols: int = 2,
):
    """One :func:`mi_estimates` panel per estimator, on shared axes (nats).

    The figure of Poole et al. (2019): the true MI steps up during training and each panel
    shows how one bound follows it. Explained in chapter 0, *An information-theory toolkit*.

    Args:
        step: the training steps, shape (T,).
        estimates: estimator name -> its estimate at each step, shape (T,).
        true_mi: the true MI at each step, shape (T,).
        ceilings: estimator name -> a ceiling to draw (InfoNCE's log N); others get none.
        smooth: width of the moving mean drawn over each estimate.
        axes: ``len(estimates)`` axes to draw on (default: a new grid of ``ncols`` columns).
        ylim: y range shared by the panels (default: -1 to 1.5 times the largest true MI),
            so that a single exploding estimate does not squash the others.
        title: prefix of each panel's title, e.g. the critic's name.
        ncols: columns of the new grid when ``axes`` is not given.

    Returns:
        The axes, one per estimator, as a flat array.
    """
    if axes is None:
        nrows = -(-len(estimates) // ncols)
        axes = plt.subplots(
            nrows,
            ncols,
            figsize=(3.6 * ncols, 2.6 * nrows),
            sharex=True,
            sharey=True,
            layout="constrained",
        )[1]
    axes = np.ravel(axes)
    for ax in axes[len(estimates) :]:  # a grid larger than needed: hide the spare panels
        ax.set_visible(False)
    true_mi = np.asarray(true_mi, dtype=float)
    ceilings = ceilings or {}
    for ax, (name, estimate) in zip(axes, estimates.items(), strict=False):
        mi_estimates(
            step,
            estimate,
            true_mi,
            ax=ax,
            ceiling=ceilings.get(name),
            smooth=smooth,
            title=f"{title} {name}".strip(),
        )
        ax.set_ylim(*(ylim or (-1.0, 1.5 * true_mi.max())))
        ax.label_outer()  # tick labels and axis names only on the outer panels
    handles = {h.get_label(): h for ax in axes for h in ax.get_lines()}  # one entry per label
    axes[0].legend(handles.values(), handles.keys(), fontsize="small", loc="upper left")
    return axes
