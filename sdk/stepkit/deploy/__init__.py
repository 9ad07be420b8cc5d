"""Deploying a stack: project model -> desired resources -> plan (reads only) -> executor
(acts only) -> recorded state. Targets are an endpoint and credentials; one code path serves
the local endpoint, LocalStack and AWS.

- :mod:`~stepkit.deploy.desired`: the stack's resources as plain dataclasses, with every
  input check that needs no target
- :mod:`~stepkit.deploy.iam`: least-privilege policies from what each resource uses
- :mod:`~stepkit.deploy.planner` / :mod:`~stepkit.deploy.executor`: decide, then act
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
