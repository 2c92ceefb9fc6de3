"""GRAFF past one machine's memory: exact precomputed propagation.

Linear GRAFF's output is Σ_k Ā^k F(0) Q_k with d×d matrices Q_k, so the graph enters only
through S_k = Ā^k [X, 1], computed once (:func:`precompute_propagation`); the model
(:class:`PrecomputedGRAFF`) then needs only the rows of S of the nodes it trains or predicts
on, and holds exactly the parameters of :class:`graff.nn.GRAFF` (state dicts load both ways).
For graphs whose S does not fit in memory, :func:`precompute_on_disk` writes S to a
memory-mapped file block by block (resumable) and :func:`open_precomputed` reads its rows.
:func:`write_synthetic_graph` streams a seeded 5M-node-scale graph to disk in bounded memory
and :func:`synthetic_adjacency` builds its Ā, so scale is measured without a download;
``optim.mode: precomputed`` (:mod:`graff.train.minibatch`) trains on node mini-batches.
"""

from graff.scale.precomputed import PrecomputedGRAFF, propagation_coefficients
from graff.scale.propagation import DEFAULT_BLOCK_ROWS, csr_row_block, precompute_propagation
from graff.scale.store import (
    PrecomputedFolderError,
    StoredPropagation,
    open_precomputed,
    precompute_on_disk,
)
from graff.scale.synthetic import SyntheticGraph, synthetic_adjacency, write_synthetic_graph

__all__ = [
    "DEFAULT_BLOCK_ROWS",
    "PrecomputedFolderError",
    "PrecomputedGRAFF",
    "StoredPropagation",
    "SyntheticGraph",
    "csr_row_block",
    "open_precomputed",
    "precompute_on_disk",
    "precompute_propagation",
    "propagation_coefficients",
    "synthetic_adjacency",
    "write_synthetic_graph",
]
