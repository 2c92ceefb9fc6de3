"""Choosing the torch device a run trains on (``--device``, ``RunConfig.device``)."""

from __future__ import annotations

import re

import torch

from graff.errors import ConfigError

__all__ = ["available_devices", "available_memory", "resolve_device"]

_SPEC = re.compile(r"^(cpu|mps|auto|cuda(:\d+)?)$")


def available_devices() -> list[str]:
    """The devices present: ``cpu`` first, then ``cuda:0``… and ``mps`` where available
    (the list the device-parametrised tests run over)."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        out.append("mps")
    return out


def resolve_device(spec: str | torch.device | None) -> torch.device:
    """``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto`` (a GPU if there is one, else the CPU)
    as a :class:`torch.device`; a device that is not present is a :class:`ConfigError`."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    text = (spec or "cpu").strip().lower()
    if not _SPEC.match(text):
        raise ConfigError(f"device = {spec!r} is invalid: expected cpu, cuda, cuda:N, mps or auto")
    if text == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {text!r}: CUDA is not available here (this torch build "
                f"{torch.__version__} has no CUDA support or no GPU is visible); use "
                "--device cpu, or install a CUDA build of torch on a machine with a GPU"
            )
        index = int(text.split(":")[1]) if ":" in text else torch.cuda.current_device()
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"device {text!r}: there are {torch.cuda.device_count()} CUDA device(s) "
                f"(cuda:0..cuda:{torch.cuda.device_count() - 1})"
            )
        return torch.device("cuda", index)
    if text == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps': Apple's MPS backend is not available here; use cpu")
    return torch.device(text)


def available_memory() -> int | None:
    """The memory this machine can still give (Linux ``MemAvailable``, bytes), or None where
    it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None
