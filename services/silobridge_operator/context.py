"""What every handler gets through kopf's ``memo``: the settings and the API client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import kopf

from silobridge_operator.kube import Kube, KubeError
from silobridge_operator.settings import OperatorSettings

GROUP = "silobridge.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass
class OperatorContext:
    settings: OperatorSettings
    kube: Kube


def ctx_of(memo: Any) -> OperatorContext:
    ctx = memo.ctx
    assert isinstance(ctx, OperatorContext)
    return ctx


def owner_reference(body: Any) -> dict[str, Any]:
    """Makes the custom resource the controller of an object: deleting it collects the object."""
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "name": body["metadata"]["name"],
        "uid": body["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def kopf_error(exc: KubeError) -> kopf.TemporaryError | kopf.PermanentError:
    if exc.temporary:
        return kopf.TemporaryError(str(exc), delay=5)
    return kopf.PermanentError(str(exc))
