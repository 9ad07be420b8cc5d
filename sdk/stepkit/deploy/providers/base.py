"""The one interface every kind of resource implements, and what its parts are given.

A kind's provider module holds all stepkit knows of that kind: its resource dataclass (the
desired shape), the builder that turns the stack's section into resources (``build``, given a
:class:`BuildContext`), the calls on a target (a :class:`Provider`: ``lookup`` for the planner,
which only reads; ``put`` and ``delete`` for the executor, which only acts; ``describe`` for
``stepkit status``), its CloudFormation (``Provider.template``, given a :class:`Template`) and
its IAM statements. :mod:`stepkit.deploy.providers` lists the kinds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from stepkit.asl.substitutions import PLACEHOLDER
from stepkit.deploy.naming import NAME_LIMITS, Names
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded
from stepkit.stack.references import camel, closest

if TYPE_CHECKING:
    from stepkit.deploy.aws import Api
    from stepkit.deploy.iam import StackArns
    from stepkit.stack.project import Project

MISSING, OURS, FOREIGN = "missing", "ours", "foreign"
"""What ``lookup`` finds under a name: nothing, this stack's (its tags), someone else's."""


def error_code(exc: Any) -> str:
    """A botocore ``ClientError``'s error code."""
    return str(exc.response.get("Error", {}).get("Code", ""))


def not_found(exc: Any) -> bool:
    """Whether a ``ClientError`` says the resource is not there (each service words it its own way)."""
    code = error_code(exc)
    return (code in {"ResourceNotFoundException", "ResourceNotFound", "NoSuchEntity", "NoSuchBucket", "404", "NotFound",
                     "StateMachineDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
                     "NoSuchEntityException"}
            or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404)


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class Provider:
    """One kind of resource on one target, for one stack and stage (``api``: the target's
    clients, the stack's tags, and the waits every kind shares)."""

    resource: ClassVar[type[Resource]]

    def __init__(self, api: Api) -> None:
        self.api = api

    # --- what every kind's calls use ---------------------------------------------------------

    def client(self, service: str) -> Any:
        return self.api.client(service)

    @property
    def tags(self) -> dict[str, str]:
        return self.api.tags

    def owned(self, tags: Mapping[str, str] | None) -> str:
        return self.api.owned(tags)

    def retry_iam(self, call: Callable[[], Any]) -> Any:
        return self.api.retry_iam(call)

    def sleep(self, seconds: float) -> None:
        self.api.sleep(seconds)

    # --- the interface -----------------------------------------------------------------------

    def lookup(self, name: str, resource: Resource | None) -> str:
        """:data:`MISSING`, :data:`OURS` or :data:`FOREIGN`: reads only."""
        raise NotImplementedError

    def put(self, resource: Any, recorded: Recorded | None, existing: bool) -> dict[str, Any]:
        """Create (``existing`` False) or converge the resource; its outputs (``arn``, ...)."""
        raise NotImplementedError

    def delete(self, recorded: Recorded) -> None:
        raise NotImplementedError

    def delete_with_data(self, recorded: Recorded) -> None:
        """``stepkit destroy --delete-data``: delete it with what it holds."""
        self.delete(recorded)

    def describe(self, recorded: Recorded) -> str:
        """A one-word state of a recorded resource (``missing`` if gone)."""
        raise NotImplementedError

    def url(self, recorded: Recorded) -> str | None:
        """Where the resource answers now, if it has a URL (``stepkit status`` shows it)."""
        return recorded.outputs.get("url")

    @classmethod
    def template(cls, resource: Any, template: Template) -> None:
        """Add the resource to a CloudFormation template."""
        raise NotImplementedError


# --- CloudFormation ---------------------------------------------------------------------------


def logical_id(resource_key: str) -> str:
    kind, _, logical = resource_key.partition(":")
    return re.sub(r"[^A-Za-z0-9]", "", camel(kind) + camel(logical))


def fn_sub(value: Any) -> Any:
    """Strings holding a pseudo parameter become ``Fn::Sub``; the rest is left as is."""
    if isinstance(value, str):
        return {"Fn::Sub": value} if "${AWS::" in value else value
    if isinstance(value, list):
        return [fn_sub(v) for v in value]
    if isinstance(value, dict):
        return {k: fn_sub(v) for k, v in value.items()}
    return value


def get_att(key: str, attribute: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id(key), attribute]}


def ref(key: str) -> dict[str, Any]:
    return {"Ref": logical_id(key)}


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            yield value["Ref"]
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            yield value["Fn::GetAtt"][0]
        for v in value.values():
            yield from _references(v)
    elif isinstance(value, list):
        for v in value:
            yield from _references(v)


#: Kinds whose data outlives the stack, as ``stepkit destroy`` keeps it without --delete-data.
_KEPT = {"AWS::S3::Bucket": "Retain", "AWS::DynamoDB::Table": "Retain", "AWS::Logs::LogGroup": "Delete"}


@dataclass
class Template:
    """A CloudFormation template being written from a stack's desired resources."""

    project: Project
    names: Names
    desired: list[Resource]
    parameters: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = {r.key for r in self.desired}

    def of_kind(self, kind: str) -> list[Resource]:
        return [r for r in self.desired if r.kind == kind]

    def add(self, resource: Resource, cfn_type: str, properties: dict[str, Any],
            extra_deps: tuple[str, ...] = ()) -> None:
        """The resource under its logical id; ``DependsOn`` only what no reference implies."""
        referenced = set(_references(properties))
        deps = sorted({logical_id(d) for d in (*resource.depends_on, *extra_deps) if d in self.keys}
                      - referenced - {logical_id(resource.key)})
        body: dict[str, Any] = {"Type": cfn_type, "Properties": properties}
        if deps:
            body["DependsOn"] = deps
        if cfn_type in _KEPT:
            body["DeletionPolicy"] = body["UpdateReplacePolicy"] = _KEPT[cfn_type]
        self.resources[logical_id(resource.key)] = body

    def output(self, resource: Resource, attribute: str = "Arn") -> None:
        """The resource's ``attribute`` as the output ``<LogicalId><attribute>``."""
        self.outputs[logical_id(resource.key) + attribute] = {"Value": get_att(resource.key, attribute)}


# --- the desired resources ----------------------------------------------------------------------

ENV_PLACEHOLDER = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
#: The stack's own placeholders, left out of the "known:" lists of a message.
STACK_PLACEHOLDERS = {"Region", "AccountId", "Partition", "Stage", "StackName"}


@dataclass
class BuildContext:
    """What the kinds' builders share while the desired resources of one stage are built:
    the names on the target, the values of the placeholders, and the problems found so far
    (all reported at once, before anything is touched)."""

    project: Project
    names: Names
    environ: Mapping[str, str]
    values: dict[str, str]
    arns: StackArns
    bucket_names: dict[str, str]
    compute_digests: bool
    code_platform: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    resources: list[Resource] = field(default_factory=list)
    notifications: dict[str, list[Any]] = field(default_factory=dict)
    """Per bucket, its functions' S3 notifications (``LambdaNotification``)."""
    eventbridge_buckets: set[str] = field(default_factory=set)
    """Buckets whose events go to EventBridge (a state machine's ``s3`` trigger)."""

    @property
    def stack(self) -> Any:
        return self.project.stack

    @property
    def where(self) -> str:
        path = self.project.stack_path
        return self.rel(path) if path else "infra/stack.yaml"

    def rel(self, path: Path) -> str:
        root = self.project.root
        return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

    def add(self, *resources: Resource) -> None:
        self.resources.extend(resources)

    def check_length(self, kind: str, physical: str, place: str) -> None:
        if len(physical) > NAME_LIMITS[kind]:
            self.problems.append(
                f"{self.where}: {place}: the {kind.replace('_', ' ')} name {physical!r} is {len(physical)} "
                f"characters, over the limit of {NAME_LIMITS[kind]}; shorten the stack, stage or resource name")

    def resolve(self, text: str, known: Mapping[str, str], place: str) -> str:
        """``text`` with every ``${Name}`` and ``${env:NAME}`` replaced; what names nothing is a problem."""
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            env = ENV_PLACEHOLDER.match(name)
            if env:
                if env.group(1) not in self.environ:
                    self.problems.append(f"{place}: ${{{name}}} reads the environment variable {env.group(1)}, "
                                         "which is not set; export it before deploying")
                    return ""
                return self.environ[env.group(1)]
            if name in known:
                return known[name]
            hint = closest(name, list(known))
            self.problems.append(
                f"{place}: ${{{name}}} names nothing in the stack" + (f"; did you mean ${{{hint}}}?" if hint else "")
                + f" (known: {', '.join('${' + k + '}' for k in sorted(known) if k not in STACK_PLACEHOLDERS)})")
            return match.group(0)

        return PLACEHOLDER.sub(one, text)
