"""silobridge-operator: reconciles SilobridgeCluster, SilobridgeJob and SilobridgePeer resources.

A SilobridgeCluster becomes one party's Kubernetes objects (rendered by the same code as
``silobridge cluster render``), a SilobridgeJob a job at that party's flow, a SilobridgePeer an
entry in the party's route table and trust bundle. Built on kopf; the Kubernetes API is reached
through :mod:`silobridge_operator.kube` (server-side apply over HTTP), flow through its REST API.
"""
