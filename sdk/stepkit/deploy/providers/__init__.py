"""Every kind of resource deploy knows, one provider module per kind (see :mod:`.base` for
the interface): its desired shape, its calls on a target, its CloudFormation, its IAM."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stepkit.deploy.providers import (
    apis,
    buckets,
    functions,
    layers,
    log_groups,
    permissions,
    pipes,
    queues,
    roles,
    rules,
    state_machines,
    streams,
    tables,
    topics,
)
from stepkit.deploy.providers.base import Provider
from stepkit.deploy.resources import Resource

PROVIDERS: dict[str, type[Provider]] = {p.resource.kind: p for p in (
    apis.RestApiProvider,
    buckets.BucketProvider,
    buckets.DeploymentBucketProvider,
    buckets.BucketNotificationsProvider,
    functions.FunctionProvider,
    layers.LayerProvider,
    log_groups.LogGroupProvider,
    permissions.PermissionProvider,
    pipes.PipeProvider,
    queues.QueueProvider,
    queues.EventSourceMappingProvider,
    roles.RoleProvider,
    rules.EventRuleProvider,
    state_machines.StateMachineProvider,
    state_machines.StateMachineAliasProvider,
    streams.KinesisStreamProvider,
    streams.StreamMappingProvider,
    tables.TableProvider,
    topics.TopicProvider,
    topics.SubscriptionProvider,
)}
"""Resource kind -> its provider."""

KINDS: dict[str, type[Resource]] = {kind: p.resource for kind, p in PROVIDERS.items()}
"""Resource kind -> its dataclass."""


def kind_order(kind: str) -> int:
    """Where deploy creates resources of ``kind`` (and, reversed, deletes them); 0 for a kind
    this version does not know (a record written by another)."""
    return KINDS[kind].order if kind in KINDS else 0

GRANTS: dict[str, Callable[[Any, Any, Any], None]] = {
    "bucket": buckets.grant,
    "function": functions.grant,
    "queue": queues.grant,
    "state_machine": state_machines.grant,
    "table": tables.grant,
    "topic": topics.grant,
}
"""A stack resource's kind (as an ``access:`` grant names it) -> what grants on it allow."""
