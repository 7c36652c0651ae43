"""Import every built-in component so that it registers itself."""

from silobridge.components import (
    column_stats,
    evaluation,
    hetero_lr,
    hetero_secureboost,
    homo_lr,
    psi,
    reader,
)  # noqa: F401
