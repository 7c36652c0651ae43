"""A host of homo-LR is a client exactly like the guest: same rows layout, same code."""

from __future__ import annotations

from silobridge.components.homo_lr.guest import train

__all__ = ["train"]
