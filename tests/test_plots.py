"""Tests of graff._plots (the figures of ``graff analyze``): nothing is cut off, and the
frequency plot says what its colours and curves are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from graff.energy import FrequencyResponse, frequency_response

pytest.importorskip("matplotlib")
from graff import _plots

LONG = "npz:/home/someone/projects/graphs/a_rather_long_name_for_a_graph_file_v2.npz"


def _symmetric(d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    return (a + a.T) / 2


def _report(dataset: str, d: int) -> dict[str, Any]:
    eig = torch.linalg.eigvalsh(_symmetric(d, 0)).tolist()
    return {
        "dataset": dataset,
        "split": 3,
        "w_type": "dd",
        "w_eigenvalues": [eig],
        "lambda_plus": max(max(eig), 0.0),
        "lambda_minus": -min(min(eig), 0.0),
        "rho_delta": 1.6,
        "predicted_regime": "HFD",
        "measured_regime": "undetermined",
        "energy": {"times": [0.0, 0.5, 1.0, 1.5], "normalized_dirichlet": [0.4, 0.5, 0.6, 0.65]},
    }


def _response(d: int, commutes: bool) -> FrequencyResponse:
    W = torch.diag(torch.linspace(-1.0, 1.0, d, dtype=torch.float64)) if commutes else None
    if W is None:
        W = _symmetric(d, 1)
    Omega = torch.diag(torch.linspace(0.0, 0.5, d, dtype=torch.float64))
    return frequency_response(W, Omega, [0.5] * 6)


def _figures(dataset: str, d: int, commutes: bool) -> dict[str, Any]:
    report = _report(dataset, d)
    return {
        "energy": _plots.energy_figure(report),
        "w_spectrum": _plots.w_spectrum_figure(report),
        "frequency": _plots.frequency_figure(report, _response(d, commutes)),
    }


def _inside(fig: Any, artist_box: Any) -> bool:
    fb = fig.bbox
    tol = 1.0  # pixels
    return (
        artist_box.x0 >= fb.x0 - tol
        and artist_box.x1 <= fb.x1 + tol
        and artist_box.y0 >= fb.y0 - tol
        and artist_box.y1 <= fb.y1 + tol
    )


@pytest.mark.parametrize("d, commutes", [(4, True), (4, False), (40, True), (40, False)])
def test_titles_and_labels_fit_inside_the_figure(d: int, commutes: bool) -> None:
    """With a long dataset name, each figure's title is wrapped to fit its width, and every
    axes with its labels, ticks and colour bar lies inside the figure after drawing."""
    plt = _plots._pyplot()
    for name, fig in _figures(LONG, d, commutes).items():
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        title = fig._suptitle
        assert title is not None and LONG in title.get_text().replace("\n", " ")
        assert _inside(fig, title.get_window_extent(renderer)), name
        assert "\n" in title.get_text(), f"{name}: a long title should wrap"
        for ax in fig.axes:
            assert _inside(fig, ax.get_tightbbox(renderer)), f"{name}: {ax.get_label()}"
        plt.close(fig)


def test_fit_title_leaves_a_short_title_on_one_line() -> None:
    plt = _plots._pyplot()
    fig = plt.figure(figsize=(6.4, 4.4))
    assert _plots.fit_title(fig, "texas: spectrum of W").get_text() == "texas: spectrum of W"
    plt.close(fig)


@pytest.mark.parametrize("commutes", [True, False])
def test_many_channels_are_a_heat_map_with_a_colour_bar(commutes: bool) -> None:
    """Above FEW_CHANNELS the response is one heat map (channels × λ, log colours) with a
    labelled colour bar and labelled axes, not a bundle of unlabelled curves; when Ω and W
    commute each channel is scaled by its own largest gain (its shape over λ)."""
    d = _plots.FEW_CHANNELS + 4
    response = _response(d, commutes)
    fig = _plots.frequency_figure(_report("texas", d), response)
    ax, cbar_ax = fig.axes
    assert all(len(line.get_xdata()) <= 2 for line in ax.get_lines())  # only ρ_Δ, separator
    (mesh,) = ax.collections
    shown = np.asarray(mesh.get_array()).reshape(d, -1)
    assert shown.shape == (d, response.lambdas.numel())
    assert "log scale" in cbar_ax.get_ylabel()
    assert "graph frequency λ" in ax.get_xlabel()
    assert ax.get_ylabel()
    if commutes:
        assert "eigen-channel of W" in ax.get_ylabel()
        assert shown.max(axis=1).tolist() == pytest.approx([1.0] * d)
    else:
        assert "singular value" in ax.get_ylabel()
        assert shown.max() == pytest.approx(float(response.response.max()))
    _plots._pyplot().close(fig)


@pytest.mark.parametrize("commutes", [True, False])
def test_few_channels_are_labelled_curves(commutes: bool) -> None:
    """Up to FEW_CHANNELS: one curve per channel, each in the legend with its kind (and
    its eigenvalue of W when Ω and W commute), plus the ρ_Δ line."""
    d = 3
    response = _response(d, commutes)
    fig = _plots.frequency_figure(_report("texas", d), response)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == d + 1 and labels[-1] == "ρ_Δ of this graph"
    for a, label in enumerate(labels[:d]):
        assert response.kind[a] in label
        if commutes:
            assert f"{float(response.w_eigenvalues[a]):+.2f}" in label
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "gain after T"
    _plots._pyplot().close(fig)


def test_plot_functions_write_pngs(tmp_path: Path) -> None:
    report = _report("texas", 12)
    paths = [
        _plots.plot_energy(report, tmp_path / "a" / "energy.png"),
        _plots.plot_w_spectrum(report, tmp_path / "w_spectrum.png"),
        _plots.plot_frequency_response(report, _response(12, False), tmp_path / "f.png"),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_spectrum_figure_title_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`graff figure spectrum` with two graphs (its narrowest figure, as in --quick): the
    long title is wrapped inside the figure (it was cut at both sides)."""
    from matplotlib.figure import Figure

    from graff.experiments import spectrum

    saved: list[Any] = []
    real_savefig = Figure.savefig

    def savefig(fig: Any, *args: Any, **kwargs: Any) -> None:
        real_savefig(fig, *args, **kwargs)
        renderer = fig.canvas.get_renderer()
        boxes = [fig._suptitle.get_window_extent(renderer)]
        boxes += [ax.get_tightbbox(renderer) for ax in fig.axes]
        saved.append((fig, boxes))

    monkeypatch.setattr(Figure, "savefig", savefig)
    rows = [
        {
            "dataset": name,
            "eigenvalues": "-0.9 -0.2 0.3 0.8",
            "predicted_regime": "LFD",
            "lambda_min": -0.9,
            "lambda_max": 0.8,
            "edge_homophily": 0.1,
            "w_type": "diag",
            "high_pass_channels": 2,
        }
        for name in ("texas", "cornell")
    ]
    spectrum.plot(rows, tmp_path / "spectrum.png")
    ((fig, boxes),) = saved
    assert all(_inside(fig, box) for box in boxes)
