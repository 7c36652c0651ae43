"""Import every built-in component so that it registers itself."""

from silobridge.components import column_stats, reader  # noqa: F401
