"""graff: graph neural networks as gradient flows.

Di Giovanni, Rowbottom, Chamberlain, Markovich, Bronstein (2022),
"Graph Neural Networks as Gradient Flows", https://arxiv.org/abs/2206.10991.

:func:`load_run` (from :mod:`graff.train.load`) opens a finished run directory; it is
imported on first use, so ``import graff`` stays light.
"""

from typing import Any

from graff._version import __version__

__all__ = ["__version__", "load_run"]


def __getattr__(name: str) -> Any:
    if name == "load_run":
        from graff.train.load import load_run

        return load_run
    raise AttributeError(f"module 'graff' has no attribute {name!r}")
