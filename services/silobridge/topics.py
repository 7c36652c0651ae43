"""Bus topic names inside one party. Topics are named by purpose; see ARCHITECTURE.md §3."""

from __future__ import annotations

from silobridge.bus.base import check_word

ROUTER_OUTBOUND = "router.outbound"  # Envelope bytes to send to another party
# Header of a router.outbound message: unix time after which the router drops it unsent
# (flow's heartbeats, worthless once late). Never crosses to the peer.
EXPIRES_AT_HEADER = "expires-at"
ROUTER_JOBS = "router.jobs"  # JobAdmissionUpdate from flow: jobs whose sessions the router admits
FLOW_CONTROL = "flow.control"  # inbound ControlMessage envelopes from peers' flows
FLOW_EVENTS = "flow.events"  # TaskEvent from node-managers
CLUSTER_RPC = "cluster.rpc"  # ClusterRequest -> ClusterReply
CLUSTER_EVENTS = "cluster.events"  # ClusterEvent
SERVING_REQUESTS = "serving.requests"  # inbound ScoreRequest envelopes from peers' serving services
SERVING_REQUEST = "score_request"  # envelope name of a CHANNEL_SERVING request
SERVING_REPLY = "score_reply"  # envelope name of a CHANNEL_SERVING reply


def serving_replies(replica: str) -> str:
    """Inbound ScoreReply envelopes for one serving replica (the request's tag names it)."""
    return f"serving.replies.{check_word(replica, 'serving replica')}"


def node_cmd(node_id: str) -> str:
    """NodeCommand for one node-manager (RunTask, StoreTable, ...)."""
    return f"node.{check_word(node_id, 'node id')}.cmd"


def session_id(job_id: str, task_name: str, attempt: int) -> str:
    """The federation session of one task run: ``<job_id>.<task_name>.<attempt>``."""
    return f"{check_word(job_id, 'job id')}.{check_word(task_name, 'task name')}.{int(attempt)}"


def fed_topic(session: str, name: str, tag: str) -> str:
    return f"fed.{session}.{check_word(name, 'variable name')}.{check_word(tag, 'tag')}"


def fed_pattern(session: str) -> str:
    return f"fed.{session}.#"


def fed_group(session: str) -> str:
    return "fed-" + session.replace(".", "-")
