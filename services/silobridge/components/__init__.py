"""Federated components (algorithms). Each module registers one component."""

from silobridge.components.registry import ComponentDef, Params, TaskResult, get, register

__all__ = ["ComponentDef", "Params", "TaskResult", "get", "register"]
