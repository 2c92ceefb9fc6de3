"""Energies, spectra and homophily for analysing GRAFF (Di Giovanni et al. 2022).

Pure tensor functions, float64-safe, taking the graph as ``edge_index`` [2, E] (undirected,
both directions) with ``num_nodes``, or a precomputed Ā:

* Dirichlet energy E^Dir(F) = ½ tr(FᵀΔF), its normalised form E^Dir(F/‖F‖) and E^Dir_W;
* GRAFF's total energy E^tot = E^ext_Ω + E^pair_W (− β⟨F, F(0)⟩);
* spectra: Δ = I − Ā, ρ_Δ, bipartiteness; W = Θ₊ᵀΘ₊ − Θ₋ᵀΘ₋, λ₊, |λ₋|;
* LFD/HFD: predicted from the spectra, measured along a trajectory (:class:`EnergyTrajectory`
  is a ``GRAFF.forward`` callback);
* homophily measures of labels and predictions;
* any model's energy layer by layer (:func:`layer_energies`), the same record for a GCN or
  a GAT as for GRAFF's steps.
"""

from graff.energy._channel import WSpectrum, attraction_repulsion, w_spectrum
from graff.energy._dirichlet import (
    TotalEnergy,
    dirichlet_energy,
    dirichlet_energy_W,
    normalized_dirichlet_energy,
    total_energy,
)
from graff.energy._graph import (
    DENSE_SPECTRUM_MAX_NODES,
    is_bipartite,
    laplacian_spectrum,
    normalized_laplacian,
    spectral_radius,
)
from graff.energy._homophily import (
    adjusted_homophily,
    class_insensitive_homophily,
    edge_homophily,
    node_homophily,
    prediction_homophily,
)
from graff.energy._layers import layer_energies, model_layers
from graff.energy._regime import (
    EnergyTrajectory,
    RegimeMeasurement,
    RegimePrediction,
    measured_regime,
    predicted_regime,
)
from graff.energy._response import (
    FrequencyResponse,
    frequency_response,
    model_frequency_response,
)

__all__ = [
    "DENSE_SPECTRUM_MAX_NODES",
    "EnergyTrajectory",
    "FrequencyResponse",
    "RegimeMeasurement",
    "RegimePrediction",
    "TotalEnergy",
    "WSpectrum",
    "adjusted_homophily",
    "attraction_repulsion",
    "class_insensitive_homophily",
    "dirichlet_energy",
    "dirichlet_energy_W",
    "edge_homophily",
    "frequency_response",
    "is_bipartite",
    "laplacian_spectrum",
    "layer_energies",
    "measured_regime",
    "model_frequency_response",
    "model_layers",
    "node_homophily",
    "normalized_dirichlet_energy",
    "normalized_laplacian",
    "predicted_regime",
    "prediction_homophily",
    "spectral_radius",
    "total_energy",
    "w_spectrum",
]
