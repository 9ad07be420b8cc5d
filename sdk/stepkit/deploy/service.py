"""One deployment: a project's stage on a target. Ties the parts together in the order that
keeps bad input from touching anything: the stack file, then the project's files, then the
target (credentials, endpoint, the recorded account and region), then the plan.

Function code is built for the platform the target runs it on (``Target.code_platform``):
for stepkit's runtime on this host, a small zip of the code (the host's packages are
provided at run time); for Lambda's platform, the code with every dependency as wheels for
the function's runtime, sent in the request when it fits Lambda's 50 MB and otherwise
uploaded first to the stack's deployment bucket (``<stack>-<stage>-deploy-<account>``, a
resource of the stack like any other, created first and destroyed last). The layers its
functions use are published as layer versions on every target (:mod:`.providers.layers`),
not copied into each function's zip.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stepkit.deploy.aws import Api
from stepkit.deploy.desired import DesiredStack, build_desired
from stepkit.deploy.errors import DeployInputError, TargetError
from stepkit.deploy.executor import Outcome, Progress, apply_plan, destroy_all
from stepkit.deploy.naming import Names
from stepkit.deploy.planner import Plan, destroy_plan, make_plan
from stepkit.deploy.providers.buckets import BucketProvider, DeploymentBucketProvider
from stepkit.deploy.providers.functions import Function
from stepkit.deploy.providers.layers import Layer, write_layer_zip
from stepkit.deploy.state import DeployState, Recorded, locked
from stepkit.deploy.target import Connection, Target, connect
from stepkit.runtime.bundle import HOST, LAMBDA, BuildResult, build_bundle, fits_direct_upload
from stepkit.runtime.config import FunctionConfig
from stepkit.stack.model import DEFAULT_STAGE, UnknownStage
from stepkit.stack.project import Project


def load_project(stack_path: Path | None, stage: str) -> tuple[Project, Project]:
    """``(project, project as the stage sees it)``; raises StackError or DeployInputError."""
    project = Project.load(stack_path) if stack_path else Project.discover()
    if project.stack_path is None:
        raise DeployInputError([f"no infra/stack.yaml found in {project.root} or above; create one "
                                "(`stepkit init DIR` makes a new project) or pass --stack"])
    if project.flows:
        from stepkit.flow.stack import FlowError, with_flows
        from stepkit.flow.typecheck import FlowTypeError

        try:
            project = with_flows(project)
        except FlowError as exc:
            raise DeployInputError(exc.problems) from None
        except FlowTypeError as exc:
            raise DeployInputError([str(f) for f in exc.findings]) from None
    try:
        staged = project.for_stage(stage)
    except UnknownStage as exc:
        raise DeployInputError([f"{project.stack_path}: {exc}"]) from None
    except ValidationError as exc:  # the loader checks every stage, so this is a safety net
        raise DeployInputError([f"{project.stack_path}: stage {stage}: {exc}"]) from None
    return project, staged


@dataclass
class Deployment:
    project: Project
    stage: str
    target: Target
    conn: Connection
    names: Names
    state: DeployState
    api: Api
    built: dict[str, bool]
    bundles: dict[str, BuildResult] | None = None
    """The bundles built or reused by this deploy, by function."""
    records_dir: Path | None = None
    """Where the deploy record lives, if not in ``<project>/.stepkit/deployments``."""

    @classmethod
    def open(cls, stack_path: Path | None = None, *, stage: str = DEFAULT_STAGE, target: str = "local",
             region: str | None = None, profile: str | None = None,
             environ: Mapping[str, str] | None = None, code_platform: str | None = None,
             records_dir: Path | None = None) -> Deployment:
        """``code_platform``: ``host`` or ``lambda``; default: the target's (see
        :mod:`stepkit.deploy.target`). ``records_dir``: keep the deploy record (what was
        created, and the lock) there instead of ``<project>/.stepkit/deployments``: for a
        deploy to an endpoint of its own (a demo, a test) that must not meet the record of
        the developer's own deploy of the same stage and target."""
        _, project = load_project(stack_path, stage)
        chosen = Target.resolve(target, region=region, profile=profile, stack_region=project.stack.region,
                                environ=environ, code_platform=code_platform)
        # Offline checks first: a bad definition is reported even with no endpoint running.
        offline = Names(project.name, stage, chosen.region, "000000000000", endpoint_url=chosen.endpoint_url)
        build_desired(project, stage, offline, environ, compute_digests=False,
                      deployment_bucket=chosen.code_platform == LAMBDA)
        conn = connect(chosen)
        state = DeployState.load(project.root, project.name, stage, target, records_dir)
        if state.resources and state.account and state.account != conn.account:
            raise TargetError(f"the {stage} deploy on {target} is recorded in account {state.account}, but these "
                              f"credentials are for account {conn.account}: use the profile of {state.account}")
        if state.resources and state.region and state.region != chosen.region:
            raise TargetError(f"the {stage} deploy on {target} is recorded in region {state.region}, not "
                              f"{chosen.region}: pass --region {state.region} (or destroy it there first)")
        names = Names(project.name, stage, chosen.region, conn.account, conn.partition,
                      endpoint_url=chosen.endpoint_url)
        built: dict[str, bool] = {}
        deployment = cls(project=project, stage=stage, target=chosen, conn=conn, names=names, state=state,
                         api=Api(conn, project.name, stage), built=built, bundles={}, records_dir=records_dir)
        deployment.api.code = deployment._bundle
        deployment.api.layer_code = deployment._layer_code
        deployment.api.records = lambda: list(state.resources.values())
        return deployment

    @property
    def code_platform(self) -> str:
        return self.target.code_platform

    @property
    def build_dir(self) -> Path:
        """Bundles for Lambda where ``stepkit build`` puts them; those for the host beside."""
        build = self.project.root / ".stepkit" / "build"
        return build / HOST if self.code_platform == HOST else build

    def _bundle(self, function: Function) -> dict[str, Any]:
        config = FunctionConfig.in_project(self.project, self.project.function(function.logical))
        result = build_bundle(config, self.build_dir, platform=self.code_platform)
        self.built[function.logical] = not result.skipped
        assert self.bundles is not None
        self.bundles[function.logical] = result
        if result.direct_upload or self.code_platform != LAMBDA:
            return {"ZipFile": result.path.read_bytes()}
        key = f"functions/{function.logical}/{result.digest}.zip"
        return DeploymentBucketProvider(self.api).upload_code(self.names.deployment_bucket(), key, result.path)

    def _layer_code(self, layer: Layer) -> tuple[dict[str, Any], str]:
        """The layer's zip (the same for every platform: a layer holds Python sources) and its
        ``CodeSha256``; through the deployment bucket when over what a request may carry."""
        path = write_layer_zip(layer.logical, layer.python_dir, self.project.root / ".stepkit" / "build" / "layers")
        data = path.read_bytes()
        sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
        if fits_direct_upload(len(data)) or self.code_platform != LAMBDA:
            return {"ZipFile": data}, sha256
        key = f"layers/{layer.logical}/{path.name}"
        return DeploymentBucketProvider(self.api).upload_code(self.names.deployment_bucket(), key, path), sha256

    def desired(self, environ: Mapping[str, str] | None = None) -> DesiredStack:
        desired = build_desired(self.project, self.stage, self.names, environ, code_platform=self.code_platform,
                                deployment_bucket=self.code_platform == LAMBDA)
        if self.target.name == "aws":
            for r in desired.resources:
                if isinstance(r, Function) and r.runtime in _RETIRED_RUNTIMES:
                    desired.warnings.append(
                        f"functions.{r.logical}: AWS Lambda no longer creates {r.runtime} functions; declare "
                        f"`runtime: {_RETIRED_RUNTIMES[r.runtime]}` in the stack (locally a function runs on its "
                        "runtime's Python when this machine has it, else on this one)")
        if self.code_platform == HOST:
            desired.warnings.extend(_interpreter_warnings(desired))
        return desired

    def plan(self, environ: Mapping[str, str] | None = None) -> Plan:
        return make_plan(self.desired(environ), self.state, self.api, target=self.target.name,
                         endpoint=self.target.endpoint_url, region=self.target.region, account=self.conn.account,
                         code_platform=self.code_platform)

    def deploy(self, plan: Plan | None = None, progress: Progress | None = None,
               environ: Mapping[str, str] | None = None) -> tuple[Plan, Outcome]:
        with locked(self.project.root, self.stage, self.target.name, self.records_dir):
            plan = plan or self.plan(environ)
            if not plan.changes:
                return plan, Outcome()
            return plan, apply_plan(plan, self.state, self.api, progress)

    def to_destroy(self) -> list[Recorded]:
        return destroy_plan(self.state)

    def non_empty_buckets(self) -> list[str]:
        return [r.name for r in self.state.resources.values()
                if r.kind == "bucket" and not BucketProvider(self.api).is_empty(r.name)]

    def destroy(self, progress: Progress | None = None, *, delete_data: bool = False) -> list[Recorded]:
        with locked(self.project.root, self.stage, self.target.name, self.records_dir):
            if not delete_data:
                full = self.non_empty_buckets()
                if full:
                    raise DeployInputError([
                        f"bucket {name} still holds objects; nothing was deleted. Empty it, or run "
                        "`stepkit destroy --delete-data` to delete its objects with the stack" for name in full])
            return destroy_all(self.to_destroy(), self.state, self.api, progress, delete_data=delete_data)

    def status(self) -> list[dict[str, Any]]:
        rows = []
        for rec in destroy_plan(self.state)[::-1]:
            url = self.api.url(rec)
            rows.append({"kind": rec.kind, "key": rec.key, "name": rec.name, "recorded": rec.status,
                         "state": self.api.describe(rec), "arn": rec.outputs.get("arn", ""),
                         **({"url": url} if url else {})})
        return rows


#: Runtimes AWS Lambda no longer creates functions on, and what to declare instead.
_RETIRED_RUNTIMES = {"python3.11": "python3.12"}


def _interpreter_warnings(desired: DesiredStack) -> list[str]:
    """One warning per runtime whose functions will run on this machine's Python instead of
    their own version (none installed here)."""
    from stepkit.runtime.interpreters import fallback_warning

    by_runtime: dict[str, list[str]] = {}
    for r in desired.resources:
        if isinstance(r, Function):
            by_runtime.setdefault(r.runtime, []).append(r.logical)
    out = []
    for runtime, functions in by_runtime.items():
        why = fallback_warning(runtime)
        if why is not None:
            out.append(f"functions {', '.join(functions)}: {why}")
    return out


def env_default_stage() -> str:
    return os.environ.get("STEPKIT_STAGE", DEFAULT_STAGE)
