"""The SilobridgeCluster CRD, generated from the cluster.yaml JSON Schema.

Kubernetes wants a *structural* OpenAPI v3 schema: no ``$ref``/``$defs``, no ``const``,
``propertyNames`` or type lists, and ``properties`` never beside ``additionalProperties``.
:func:`structural` rewrites our schema into that form, so the CRD can never drift from cluster.yaml
(a test compares the committed CRD with this output).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from silobridge_cli.deploy.spec import cluster_schema, resolve_ref
from silobridge_cli.deploy.yamlio import dump_yaml

GROUP = "silobridge.io"
VERSION = "v1alpha1"
_DROP = {"$schema", "$id", "$defs", "$comment", "propertyNames", "examples"}
_FLOAT_EXACT = 2**53
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def structural(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """JSON Schema (our subset) -> Kubernetes structural schema."""
    root = root if root is not None else schema
    node = resolve_ref(schema, root)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "const":
            out["enum"] = [value]
            out.setdefault("type", _JSON_TYPES[type(value)])
        elif key == "type" and isinstance(value, list):
            out["type"] = "string"  # env values: Kubernetes allows one type; quote numbers in a CR
        elif key == "properties":
            out["properties"] = {name: structural(sub, root) for name, sub in value.items()}
        elif key == "additionalProperties":
            if isinstance(value, Mapping):
                out["additionalProperties"] = structural(value, root)
            # false: Kubernetes prunes unknown fields anyway, and forbids it beside properties
        elif key in ("minimum", "maximum") and isinstance(value, int) and abs(value) > _FLOAT_EXACT:
            # the API server keeps bounds as float64: 2**63-1 rounds up and wraps to -2**63, which
            # refused every party id; an integer field is int64 anyway
            continue
        elif key == "items":
            out["items"] = structural(value, root)
        else:
            out[key] = value
    if "enum" in out and "type" not in out:
        out["type"] = _JSON_TYPES[type(out["enum"][0])]
    if "properties" in out and "additionalProperties" in out:
        # a map with some named keys (routes: party ids + default): one value schema for all keys
        merged = dict(out.pop("additionalProperties"))
        merged_props = dict(merged.get("properties", {}))
        required = set(merged.get("required", []))
        for sub in out.pop("properties").values():
            merged_props.update(sub.get("properties", {}))
            required &= set(sub.get("required", []))
        merged["properties"] = merged_props
        if required:
            merged["required"] = sorted(required)
        out["additionalProperties"] = merged
    return out


def cluster_spec_schema() -> dict[str, Any]:
    """``spec`` of a SilobridgeCluster: cluster.yaml without apiVersion/kind (those are the CR's own)."""
    schema = dict(cluster_schema())
    schema["properties"] = {k: v for k, v in schema["properties"].items() if k not in ("apiVersion", "kind")}
    schema["required"] = [r for r in schema["required"] if r not in ("apiVersion", "kind")]
    return structural(schema, schema)


def cluster_crd() -> dict[str, Any]:
    status = {
        "type": "object",
        "properties": {
            "phase": {"type": "string", "description": "Deploying, Upgrading, Ready, Degraded, Failed"},
            "observedGeneration": {"type": "integer"},
            "version": {
                "type": "string",
                "description": "Image tag every workload runs (last completed rollout)",
            },
            "targetVersion": {"type": "string", "description": "Image tag of the spec"},
            "routerEndpoint": {"type": "string"},
            "conditions": {
                "type": "array",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"silobridgeclusters.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": "SilobridgeCluster",
                "listKind": "SilobridgeClusterList",
                "plural": "silobridgeclusters",
                "singular": "silobridgecluster",
                "shortNames": ["sbc"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Party", "type": "integer", "jsonPath": ".spec.party.id"},
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {"name": "Version", "type": "string", "jsonPath": ".status.version"},
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "One silobridge party; spec is the body of cluster.yaml.",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": cluster_spec_schema(),
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


def cluster_crd_yaml() -> str:
    header = (
        "# Generated from services/silobridge_cli/deploy/cluster.schema.json by\n"
        "#   silobridge cluster schema --crd > deploy/operator/crds/silobridgecluster.yaml\n"
        "# Do not edit by hand: a test fails when this file is stale.\n"
    )
    return header + dump_yaml(cluster_crd())
