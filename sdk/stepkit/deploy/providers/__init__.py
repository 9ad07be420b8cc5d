"""Every kind of resource deploy knows, one provider module per kind (see :mod:`.base` for
the interface): its desired shape, its calls on a target, its CloudFormation, its IAM."""

from __future__ import annotations

from stepkit.deploy.providers.base import Provider
from stepkit.deploy.resources import Resource

PROVIDERS: dict[str, type[Provider]] = {}
"""Resource kind -> its provider."""

KINDS: dict[str, type[Resource]] = {kind: p.resource for kind, p in PROVIDERS.items()}
"""Resource kind -> its dataclass."""
