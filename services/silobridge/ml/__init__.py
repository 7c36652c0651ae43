"""Shared helpers of the built-in algorithms: metrics, optimisers, curve arithmetic, abort protocol."""
