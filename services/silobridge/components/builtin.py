"""Import every built-in component so that it registers itself."""

from silobridge.components import (  # noqa: F401
    column_stats,
    data_split,
    evaluation,
    feature_scale,
    feature_selection,
    hetero_binning,
    hetero_lr,
    hetero_secureboost,
    hetero_sshe_lr,
    homo_lr,
    homo_nn,
    psi,
    reader,
    statistics,
)
