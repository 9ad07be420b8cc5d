"""Deploying a stack: project model -> desired resources -> plan (reads only) -> executor
(acts only) -> recorded state. Targets are an endpoint and credentials; one code path serves
the local endpoint, LocalStack and AWS.

- :mod:`~stepkit.deploy.providers`: one module per kind of resource (functions, buckets,
  tables, topics, queues, streams, pipes, state machines, rules, REST APIs, roles, log
  groups, permissions), each holding all deploy knows of its kind: its dataclass, the
  builder of its stack section, its calls on a target, its CloudFormation, its IAM
- :mod:`~stepkit.deploy.desired`: the stack's resources, the kinds' builders run in order,
  with every input check that needs no target
- :mod:`~stepkit.deploy.iam`: least-privilege policies: what a definition's Task states call,
  and ``access:`` grants (each kind's provider says what a grant on it allows)
- :mod:`~stepkit.deploy.planner` / :mod:`~stepkit.deploy.executor`: decide, then act
  (through :class:`~stepkit.deploy.aws.Api`, which dispatches to the kinds' providers)
- :mod:`~stepkit.deploy.state`: what was created, per stage and target
- :mod:`~stepkit.deploy.cloudformation`: the same stack as a CloudFormation template
"""

from stepkit.deploy.errors import DeployError, DeployInputError, TargetError
from stepkit.deploy.planner import Action, Plan
from stepkit.deploy.service import Deployment, load_project
from stepkit.deploy.target import TARGETS, Target

__all__ = [
    "TARGETS",
    "Action",
    "DeployError",
    "DeployInputError",
    "Deployment",
    "Plan",
    "Target",
    "TargetError",
    "load_project",
]
