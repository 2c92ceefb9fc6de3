"""The checks of :func:`graff.tune.tune`'s arguments, made before any file, data or trial.

Each refusal names the argument, says what it must be and shows what was given, as the
command line's own checks do (``graff tune --trials 0``); Python values the command line
would never pass (a graph where a name goes, ``"10"`` for a number) are named too, so no
call of ``tune`` ends in a comparison's TypeError trace.
"""

from __future__ import annotations

from typing import Any

from graff.tune import _backend as backend
from graff.tune._worker import make_pruner

__all__ = ["check_tune_arguments"]


def check_tune_arguments(
    dataset: Any,
    model: Any,
    *,
    counts: dict[str, Any],
    sampler_seed: Any,
    timeout: Any,
    pruner: Any,
    flags: dict[str, Any],
    on_trial: Any = None,
) -> str:
    """Refuse a bad argument of ``tune`` (ConfigError; TypeError for a switch not a bool);
    return the model's registered name (``GRAFF`` is graff).

    ``counts`` are positive integers (trials, jobs, threads), ``sampler_seed`` an integer
    >= 0, ``timeout`` None or a positive number of seconds, ``flags`` True or False."""
    if not isinstance(dataset, str):  # its workers load the graph by name
        raise backend.ConfigError(
            f"tune takes a dataset's name (registered, or npz:PATH), got {type(dataset).__name__}"
            "; save a graph in memory with np.savez (x, y, edge_index) and pass 'npz:PATH'"
        )
    model = backend.MODELS.canonical(model)
    if not isinstance(model, str) or model not in backend.MODELS:
        raise backend.ConfigError(
            f"model {model!r} is not registered; choose one of {', '.join(backend.MODELS)}"
        )
    for name, value in counts.items():
        if not (backend.is_int(value) and value >= 1):
            raise backend.ConfigError(f"{name}={value!r}: expected a positive integer")
    if not (backend.is_int(sampler_seed) and sampler_seed >= 0):
        raise backend.ConfigError(f"sampler_seed={sampler_seed!r}: expected an integer >= 0")
    backend.check_flags(**flags)  # "no" would count as true
    if timeout is not None and not (backend.is_real(timeout) and timeout > 0):
        raise backend.ConfigError(
            f"timeout={timeout!r}: expected a positive number of seconds (None: no limit)"
        )
    make_pruner(pruner, 1)  # a bad pruner name fails here, not in a worker
    if on_trial is not None and not callable(on_trial):  # else a TypeError after the 1st trial
        raise backend.ConfigError(
            f"on_trial={on_trial!r}: expected a function called with each counted trial's "
            "TrialEvent, or None"
        )
    return model
