"""Import every built-in component so that it registers itself."""

from silobridge.components import column_stats, evaluation, hetero_lr, homo_lr, psi, reader  # noqa: F401
