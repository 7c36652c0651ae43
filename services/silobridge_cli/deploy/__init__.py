"""From one compact ``cluster.yaml`` to a running party: validation, renderers, local launcher.

spec.py       load + validate cluster.yaml (JSON Schema, errors name the path) -> ClusterSpec
services.py   the four services and the SILOBRIDGE_* environment each one gets
local.py      launch plan for `silobridge cluster up` (processes, env, readiness URLs)
launcher.py   start a plan as OS processes, wait for /readyz, stop them (LocalCluster)
compose.py    docker-compose.yaml per party
helm.py       values.yaml for the chart in deploy/helm/silobridge
crd.py        JSON Schema -> Kubernetes structural openAPIV3Schema (operator CRDs)
yamlio.py     YAML output for people: no aliases, multi-line strings as blocks
"""
