"""Metrics, health endpoints and structured logs shared by every service."""
