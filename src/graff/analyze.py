"""Analyse a trained run: its energy along the way, and for GRAFF the regime its W predicts.

:func:`analyze_run` reads a run directory written by ``graff train`` (``config.yaml`` and the
best-validation model ``split_<k>.pt``), loads the data where the run recorded it (or from
``data_dir``: :func:`graff.train.load.run_data`), rebuilds the model and runs it once on the
whole graph in eval mode. For a GRAFF (:class:`graff.nn.GRAFF`, with or without the
residual step) it replays F(0) → F(T) and reports the spectrum of W, the predicted and
measured regime and the per-channel frequency response; for a continuous model (linear GRAND,
CGNN, linear PDE-GCN_D: a forward that takes ``callback``) it records F(t) at t = 0, τ, …, T
along its ODE; for APPNP and GPR-GNN the features after each propagation step, with their
polynomial filter's gain over the graph frequencies; for any other model it measures the
normalised Dirichlet energy of the first layer's input and of each layer's output
(:func:`graff.energy.layer_energies`), the paper's measure of smoothing pointed at a baseline.
All report homophily and the split's test score. Plotting lives in :mod:`graff._plots`
(matplotlib is imported only there).
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from graff._io import atomic_write
from graff.data import PreparedData
from graff.energy import (
    EnergyTrajectory,
    FrequencyResponse,
    adjusted_homophily,
    edge_homophily,
    layer_energies,
    measured_regime,
    model_frequency_response,
    model_layers,
    node_homophily,
    predicted_regime,
    prediction_homophily,
    spectral_radius,
    w_spectrum,
)
from graff.errors import RunDirError
from graff.nn import CGNN, GPRGNN, GRAFF, PDEGCND, APPNPNet, GRANDLinear
from graff.nn.checks import is_int
from graff.train import build_model
from graff.train.fit import score
from graff.train.load import read_run_config, run_data, run_path
from graff.train.rundir import read_split

__all__ = ["analyze_run", "text_report", "write_analysis"]


def _load_run(
    run_dir: Path, split: int, data_dir: str | None = None
) -> tuple[Any, Path, PreparedData]:
    """The run's config, split ``split``'s checkpoint and the data the run was trained on
    (found as :func:`graff.train.load.run_data` finds it: ``data_dir``, else where the run
    recorded it; a user graph by its absolute path and sha256). The split's record and
    checkpoint must be intact (:func:`graff.train.rundir.read_split`); the run need not have
    finished its other splits."""
    cfg, meta = read_run_config(run_dir)
    weights = run_dir / f"split_{split}.pt"
    if not weights.is_file():
        done = sorted(int(k) for p in run_dir.glob("split_*.pt") if (k := p.stem[6:]).isdigit())
        raise RunDirError(
            f"{run_dir} has no trained model for split {split}; available splits: "
            + (", ".join(map(str, done)) if done else "none (the run has not finished a split)")
        )
    # The split's record and the checksum of its checkpoint, as load_run checks them: a
    # checkpoint copied from another split or edited would otherwise be analysed silently.
    read_split(run_dir, split)
    return cfg, weights, run_data(cfg, meta.get("data_source"), data_dir, run_dir)


def _adjusted_homophily(y: torch.Tensor, edge_index: torch.Tensor) -> float | None:
    """Platonov et al.'s adjusted homophily (edge homophily corrected for the class sizes:
    minesweeper's 0.68 edge homophily is 0.01 adjusted); None where it is undefined (every
    labelled edge end in one class)."""
    try:
        return adjusted_homophily(y, edge_index)
    except ValueError:
        return None


def _load_model(cfg: Any, weights: Path, prepared: PreparedData) -> nn.Module:
    """The run's model with split's best-validation weights, in eval mode."""
    model = build_model(cfg.model, prepared.x.size(1), prepared.num_classes)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as err:  # any unpickling or shape error: the file is not our checkpoint
        raise RunDirError(
            f"{weights} is damaged or does not belong to this run's config "
            f"({type(err).__name__}); train the split again (graff train --overwrite "
            "--out RUN_DIR with the run's options)"
        ) from None
    return model.eval()


def _graff_terms(
    model: GRAFF, cfg: Any, rho: float
) -> tuple[dict[str, Any], FrequencyResponse | None]:
    """A GRAFF's own part of the report: W's spectrum, the predicted regime (of the linear
    flow, residual or not) and, for a shared W and the residual step, the frequency response."""
    W = model.W.double()
    mats = [W] if W.dim() == 2 else list(W)
    spectra = [w_spectrum(m) for m in mats]
    residual = bool(model.conv.residual)
    prediction = predicted_regime(mats[0], rho, tau=cfg.model.step_size, residual=residual)
    terms: dict[str, Any] = {
        "w_type": cfg.model.w_type,
        "omega_type": cfg.model.omega_type,
        "residual": residual,
        "nonlinear": bool(model.conv.nonlinear),
        "step_norm": bool(model.conv.increment_norm),
        "T": cfg.model.T,
        "step_size": cfg.model.step_size,
        "w_eigenvalues": [s.eigenvalues.tolist() for s in spectra],
        "lambda_plus": spectra[0].lambda_plus,
        "lambda_minus": spectra[0].lambda_minus,
        "beta": float(model.beta),
        "omega_diagonal": torch.diagonal(model.Omega).tolist(),
        "predicted_regime": prediction.regime,
        "predicted_condition": prediction.condition,
        "predicted_condition_holds": prediction.condition_holds,
        "time_dependent_w": len(mats) > 1,
    }
    response = None
    if len(mats) == 1 and residual:  # the response is that of the residual Euler step
        response = model_frequency_response(model)
        kinds = list(response.kind)
        terms["frequency_response"] = {
            "commutes": bool(response.commutes),
            "low_pass": kinds.count("low-pass"),
            "high_pass": kinds.count("high-pass"),
            "flat": kinds.count("flat"),
        }
    return terms, response


def _filter_terms(model: APPNPNet | GPRGNN, rho: float) -> dict[str, Any]:
    """APPNP's K steps and GPR-GNN's K hops are one polynomial filter of Ā, Σ_j c_j Āʲ: a
    graph frequency λ (eigenvalue of Δ, Ā's is 1 − λ) is scaled by g(λ) = Σ_j c_j (1 − λ)ʲ.
    Its gain at 0 and ρ_Δ, and where on [0, ρ_Δ] it is largest, say which frequencies the
    propagation keeps (APPNP: c_j = α(1 − α)ʲ, c_K = (1 − α)ᴷ; GPR-GNN: its learned γ)."""
    if isinstance(model, APPNPNet):
        K, alpha = model.prop.K, model.prop.alpha
        coef = [alpha * (1 - alpha) ** j for j in range(K)] + [(1 - alpha) ** K]
    else:
        coef = model.gamma.detach().double().tolist()
    lam = torch.linspace(0.0, rho, 201, dtype=torch.float64)
    gain = sum(c * (1 - lam) ** j for j, c in enumerate(coef))
    assert isinstance(gain, Tensor)
    size = gain.abs()
    peak = float(lam[int(size.argmax())])
    if float(size.max() - size.min()) <= 1e-9 * max(float(size.max()), 1e-300):
        kind = "flat (all-pass)"  # K = 0, or coefficients whose powers cancel
    elif peak == 0.0:
        kind = "low-pass"
    else:
        kind = "high-pass" if peak == float(lam[-1]) else "band-pass"
    return {
        "propagation": {
            "model": type(model).__name__,
            "K": len(coef) - 1,
            "coefficients": coef,
            "gain_at_zero": float(gain[0]),
            "gain_at_rho": float(gain[-1]),
            "peak_at": peak,
        },
        "predicted_regime": kind,
    }


def _ode_terms(model: nn.Module, rho: float) -> dict[str, Any]:
    """A continuous model's part of the report: its solver and grid, and the paper's
    proposition where it applies (the three continuous models it studies are never HFD)."""
    terms: dict[str, Any] = {
        "ode": {k: getattr(model, k, None) for k in ("method", "T", "step_size")},
        "predicted_regime": "not predicted",
    }
    if isinstance(model, GRANDLinear | CGNN | PDEGCND):
        terms["predicted_regime"] = "never HFD"
        terms["predicted_condition"] = (
            "the paper's proposition (Section 4): linear GRAND, CGNN and linear PDE-GCN_D are "
            "never HFD"
        )
    step = _euler_step(model, rho)
    if step is not None:
        terms["euler_step"] = step
    return terms


def _euler_step(model: nn.Module, rho: float) -> dict[str, Any] | None:
    """What an explicit Euler step does to the linear part of CGNN's or PDE-GCN_D's ODE: a
    graph frequency λ (eigenvalue of Δ, in [0, ρ_Δ]) and a channel eigenvalue are multiplied
    by 1 + τ(ω − λ) (CGNN, ω of Ω̃) or 1 − τλμ (PDE-GCN_D, μ of KᵀK). Affine in λ, the
    largest |multiplier| lies at λ = 0 or λ = ρ_Δ: at ρ_Δ, repeated steps amplify the
    highest frequencies (HFD), whatever the ODE does (the proposition is about the ODE)."""
    if not isinstance(model, CGNN | PDEGCND) or model.method != "euler":
        return None
    tau = min(model.step_size, model.T)  # T < τ: one step, of T
    with torch.no_grad():
        if isinstance(model, CGNN):
            w = torch.linalg.eigvalsh(model.omega().double())
            low, high, formula = 1 + tau * w, 1 + tau * (w - rho), "1 + τ(ω − λ), ω of Ω̃"
        else:
            mu = torch.linalg.eigvalsh((model.k.t() @ model.k).double())
            low, high, formula = torch.ones_like(mu), 1 - tau * rho * mu, "1 − τλμ, μ of KᵀK"
    lo, hi = float(low.abs().max()), float(high.abs().max())
    return {
        "formula": formula,
        "step": tau,
        "largest_at_zero": lo,
        "largest_at_rho": hi,
        "regime": "HFD" if hi > lo else "LFD",
    }


def _layer_trajectory(
    model: nn.Module, cfg: Any, prepared: PreparedData, self_loops: bool, run_dir: Path
) -> tuple[EnergyTrajectory, list[str], Tensor]:
    """The energy of any other model after each of its layers (:func:`layer_energies`), the
    layers' names and the logits of that same forward pass (one pass, not two)."""
    try:
        names = [name for name, _ in model_layers(model)]
    except ValueError:
        raise RunDirError(
            f"{run_dir} holds a {cfg.model.name!r} run, whose layers graff analyze cannot find "
            "(it measures the outputs of the modules of a model's first nn.ModuleList); "
            "measure the modules you choose with graff.energy.layer_energies(model, x, "
            "edge_index, layers=[...]) on graff.load_run(RUN_DIR).model(0)"
        ) from None
    outputs: list[Tensor] = []
    handle = model.register_forward_hook(lambda module, args, out: outputs.append(out))
    try:
        trajectory = layer_energies(model, prepared.x, prepared.edge_index, self_loops=self_loops)
    finally:
        handle.remove()
    return trajectory, names, outputs[-1]


def analyze_run(
    run_dir: str | Path, *, split: int = 0, data_dir: str | None = None
) -> tuple[dict[str, Any], nn.Module, FrequencyResponse | None]:
    """Report on split ``split`` of a run (see module docstring), the model, and, for a GRAFF
    with the residual step and one W, its per-channel frequency response (else ``None``).

    The energies use the model's own Ā (with self-loops when the model has them), so ρ_Δ and
    the LFD/HFD limits refer to the operator the model actually applied.
    """
    run_dir = run_path(run_dir)
    if not is_int(split):  # "0" read split_0.json, then called it damaged
        raise TypeError(f"split must be an integer (a split of the run), got {split!r:.40}")
    cfg, weights, prepared = _load_run(run_dir, int(split), data_dir)
    model = _load_model(cfg, weights, prepared)
    ei, n = prepared.edge_index, prepared.x.size(0)
    self_loops = bool(cfg.model.self_loops)
    rho = spectral_radius(ei, n, self_loops=self_loops)
    terms: dict[str, Any]
    response = None
    if "callback" in inspect.signature(model.forward).parameters:  # GRAFF's steps and the like
        trajectory = EnergyTrajectory(ei, n, self_loops=self_loops)
        with torch.no_grad():
            logits = model(prepared.x, ei, callback=trajectory)
        if isinstance(model, GRAFF):
            terms, response = _graff_terms(model, cfg, rho)
        elif isinstance(model, APPNPNet | GPRGNN):
            terms = _filter_terms(model, rho)
        elif all(isinstance(getattr(model, k, None), int | float) for k in ("T", "step_size")):
            terms = _ode_terms(model, rho)
        else:  # H2GCN's rounds, or a registered model of a user's that takes a callback
            default = "the features its forward hands to callback(k, t, F) at each step"
            terms = {
                "recorded": str(getattr(model, "callback_steps", default)),
                "predicted_regime": "not predicted",
            }
    else:
        trajectory, names, logits = _layer_trajectory(model, cfg, prepared, self_loops, run_dir)
        terms = {"layers": names}
    measured = measured_regime(trajectory, rho)
    pred = logits.argmax(dim=-1)
    labelled = prepared.y >= 0
    # Homophily of the labels is measured on edges between labelled nodes only.
    keep = labelled[ei[0]] & labelled[ei[1]]
    y_known, ei_known = prepared.y.clamp(min=0), ei[:, keep]
    test = prepared.test_mask[:, split]
    report = {
        "run_dir": str(run_dir),
        "split": split,
        "dataset": prepared.name,
        "model": cfg.model.name,
        **terms,
        "self_loops": self_loops,
        "rho_delta": rho,
        "measured_regime": measured.regime,
        "measured": {
            "last_normalized_energy": measured.last,
            "hfd_limit": measured.hfd_limit,
            "trend": measured.trend,
        },
        "energy": {
            "steps": trajectory.steps,
            "times": trajectory.times,
            "dirichlet": trajectory.energies,
            "normalized_dirichlet": trajectory.normalized,
        },
        "homophily": {
            "graph_edge": edge_homophily(y_known, ei_known),
            "graph_node": node_homophily(y_known, ei_known),
            "graph_adjusted": _adjusted_homophily(y_known, ei_known),
            "predictions_edge": prediction_homophily(pred, ei),
        },
        "test_accuracy": float((pred[test] == prepared.y[test]).float().mean()),
        "metric": prepared.metric,  # the run's: its summary's test scores are this metric's
        "test_score": score(prepared.metric, logits[test], prepared.y[test]),
    }
    return report, model, response


def _condition_text(report: dict[str, Any]) -> str:
    """The theorem the prediction applied, whether its (HFD) hypothesis holds, and its terms:
    "LFD (… eq. 1: λ₊(ρ_Δ−1)^{-1} < |λ₋| < 2(τ(2−ρ_Δ))^{-1} — does not hold: 3.07 < 1.09 <
    5.31)", so an LFD shown beside the HFD condition is not read as its justification."""
    holds = report.get("predicted_condition_holds")
    text = str(report["predicted_condition"])
    if holds is None:  # an analysis.json written before the field existed
        return text
    text += " — holds" if holds else " — does not hold"
    rho, tau, lp, lm = (
        report[k] for k in ("rho_delta", "step_size", "lambda_plus", "lambda_minus")
    )
    if "eq. 1" in text:  # the residual Euler step's condition, with its terms
        if rho <= 1:
            return f"{text}: ρ_Δ = {rho:.4f} ≤ 1"
        upper = "∞" if rho >= 2 else f"{2 / (tau * (2 - rho)):.4f}"
        return f"{text}: {lp / (rho - 1):.4f} < {lm:.4f} < {upper}"
    return text


def _beyond_linear(report: dict[str, Any]) -> str:
    """What of the run's step the prediction (a statement about the linear flow) leaves out."""
    extra = [
        what
        for key, what in (
            ("nonlinear", "a ReLU on each increment (GRAFF-NL)"),
            ("step_norm", "each increment standardised per channel (step_norm)"),
        )
        if report.get(key)
    ]
    return f" (of the linear flow; this run's step adds {' and '.join(extra)})" if extra else ""


def _score_line(report: dict[str, Any]) -> str:
    """The split's test score in the run's metric (the one its summary holds), with the
    accuracy beside a ROC-AUC."""
    accuracy = f"{100 * report['test_accuracy']:.2f} %"
    if report.get("metric", "accuracy") == "accuracy":
        return f"  test accuracy of this split: {accuracy}"
    return (
        f"  test {report['metric'].replace('roc_auc', 'ROC-AUC')} of this split: "
        f"{100 * report['test_score']:.2f} % (accuracy {accuracy})"
    )


def _common_lines(report: dict[str, Any], after: str, per: str) -> list[str]:
    """The measured regime, the energies, homophily and the score: every report's lines."""
    h, m = report["homophily"], report["measured"]
    adj = h.get("graph_adjusted")  # chance level is 0: no "-0.000" for a value just below
    adjusted = "" if adj is None else f", adjusted {adj:.3f}".replace("-0.000", "0.000")
    return [
        f"  measured regime {after}: {report['measured_regime']} (normalised Dirichlet "
        f"energy {m['last_normalized_energy']:.4f}; LFD limit 0, HFD limit "
        f"{m['hfd_limit']:.4f}; last trend {m['trend']:+.4f} per {per})",
        f"  normalised energy along the {per}s: "
        + ", ".join(f"{v:.3f}" for v in report["energy"]["normalized_dirichlet"]),
        f"  homophily: graph edge {h['graph_edge']:.3f}, node {h['graph_node']:.3f}{adjusted}; "
        f"predictions edge {h['predictions_edge']:.3f}",
        _score_line(report),
    ]


def _head(report: dict[str, Any], what: str) -> list[str]:
    """The first lines of a report on a model other than GRAFF: the run, what was measured
    (``what``, after "the energy "), ρ_Δ."""
    return [
        f"{report['model']} run {report['run_dir']} (split {report['split']}), dataset "
        f"{report['dataset']}",
        f"  not a GRAFF (no W whose spectrum predicts a regime): the energy {what}",
        f"  ρ_Δ = {report['rho_delta']:.4f} (self-loops: {report['self_loops']})",
    ]


def _layers_report(report: dict[str, Any]) -> str:
    """The text of a model other than GRAFF: its energy layer by layer."""
    layers = report["layers"]
    shown = ", ".join(layers) if len(layers) <= 4 else f"{layers[0]} … {layers[-1]}"
    what = f"of the first layer's input (layer 0) and after each of its {len(layers)} layers"
    lines = [
        *_head(report, f"{what} ({shown})"),
        *_common_lines(report, "after the last layer", "layer"),
    ]
    return "\n".join(lines) + "\n"


def _propagation_report(report: dict[str, Any]) -> str:
    """The text of APPNP or GPR-GNN: energy along the propagation, and its filter's gain."""
    p = report["propagation"]
    what = (
        "after each of its K = {K} propagation steps Z ← (1 − α)ĀZ + αH (k = 0: H, the MLP's "
        "output)"
        if p["model"] == "APPNPNet"
        else "of the partial sums Σ_{{j ≤ k}} γ_j Āʲ H after each of its K = {K} hops (k = K: "
        "the logits)"
    ).format(K=p["K"])
    lines = [
        *_head(report, what),
        f"  its filter g(λ) = Σ c_j (1 − λ)ʲ over graph frequency λ ∈ [0, ρ_Δ]: gain "
        f"{p['gain_at_zero']:.4f} at 0, {p['gain_at_rho']:.4f} at ρ_Δ, largest in size at "
        f"λ = {p['peak_at']:.4f}: {report['predicted_regime']}",
        *_common_lines(report, "after the last step", "step"),
    ]
    return "\n".join(lines) + "\n"


def _recorded_report(report: dict[str, Any]) -> str:
    """The text of another model whose forward takes a callback (H2GCN: its rounds)."""
    lines = [
        *_head(report, f"of {report['recorded']}"),
        *_common_lines(report, "after the last step", "step"),
    ]
    return "\n".join(lines) + "\n"


def _ode_report(report: dict[str, Any]) -> str:
    """The text of a continuous model: its energy along the ODE."""
    ode = report["ode"]
    prediction = report["predicted_regime"]
    if "predicted_condition" in report:
        prediction += f" ({report['predicted_condition']})"
    grid = f"T = {ode['T']:.4g}, τ = {ode['step_size']:.4g}, solver {ode['method']}"
    lines = [
        *_head(report, f"of F(t) along its ODE at t = 0, τ, …, T ({grid})"),
        f"  predicted regime: {prediction}",
    ]
    step = report.get("euler_step")
    if step is not None:
        held = "" if step["regime"] == "LFD" else " (the proposition is the ODE's, not this step's)"
        lines.append(
            f"  its explicit Euler step (τ = {step.get('step', ode['step_size']):.4g}) is "
            f"{step['regime']}-directed"
            f"{held}: largest |multiplier| {step['largest_at_rho']:.4f} at graph frequency ρ_Δ "
            f"against {step['largest_at_zero']:.4f} at 0 ({step['formula']})"
        )
    lines += _common_lines(report, "at T", "step")
    return "\n".join(lines) + "\n"


def text_report(report: dict[str, Any]) -> str:
    """A short human-readable summary of :func:`analyze_run`'s report."""
    if "layers" in report:
        return _layers_report(report)
    if "propagation" in report:
        return _propagation_report(report)
    if "recorded" in report:
        return _recorded_report(report)
    if "ode" in report:
        return _ode_report(report)
    first = " at the first step (W varies with t)" if report.get("time_dependent_w") else ""
    linear = _beyond_linear(report)
    lines = [
        f"GRAFF run {report['run_dir']} (split {report['split']}), dataset {report['dataset']}",
        f"  W: {report['w_type']}, Ω: {report['omega_type']}, T = {round(report['T'], 4)}, "
        f"τ = {round(report['step_size'], 4)}, β = {report['beta']:.4f}",
        f"  spectrum of W{first}: λ₊ = {report['lambda_plus']:.4f}, "
        f"|λ₋| = {report['lambda_minus']:.4f}; "
        f"ρ_Δ = {report['rho_delta']:.4f} (self-loops: {report['self_loops']})",
        f"  predicted regime{linear}: {report['predicted_regime']} ({_condition_text(report)})",
        *_common_lines(report, "after T", "step"),
    ]
    if "frequency_response" in report:
        fr = report["frequency_response"]
        if fr["commutes"]:
            lines.append(
                f"  eigen-channels of W: {fr['low_pass']} low-pass, {fr['high_pass']} high-pass, "
                f"{fr['flat']} flat"
            )
        else:
            lines.append(
                "  Ω does not commute with W; singular values of the T-step map: "
                f"{fr['low_pass']} fall and {fr['high_pass']} rise with graph frequency, "
                f"{fr['flat']} flat"
            )
    return "\n".join(lines) + "\n"


def write_analysis(
    run_dir: str | Path,
    *,
    split: int = 0,
    out: str | Path | None = None,
    plots: bool = True,
    data_dir: str | None = None,
) -> tuple[str, list[Path]]:
    """:func:`analyze_run`, written to ``out`` (default ``RUN_DIR/analysis``): analysis.json,
    report.txt and (``plots``, needs matplotlib) the energy plot, for a GRAFF the W-spectrum
    and (residual step, one W) frequency plots, for APPNP / GPR-GNN the filter's gain.
    Returns the text report and the files written."""
    from graff import _plots

    report, _, response = analyze_run(run_dir, split=split, data_dir=data_dir)
    folder = Path(out) if out is not None else Path(run_dir) / "analysis"
    text = text_report(report)
    files = [
        atomic_write(folder / "analysis.json", json.dumps(report, indent=2)),
        atomic_write(folder / "report.txt", text),
    ]
    if plots:
        files.append(_plots.plot_energy(report, folder / "energy.png"))
        if "propagation" in report:
            files.append(_plots.plot_filter_gain(report, folder / "filter.png"))
        if "w_eigenvalues" in report:
            files.append(_plots.plot_w_spectrum(report, folder / "w_spectrum.png"))
        if response is not None:
            files.append(_plots.plot_frequency_response(report, response, folder / "frequency.png"))
    return text, files
