"""A host of homo-NN is a client exactly like the guest: same rows layout, same code."""

from __future__ import annotations

from silobridge.components.homo_nn.guest import train

__all__ = ["train"]
