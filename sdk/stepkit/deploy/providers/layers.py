"""Lambda layers (the stack's ``layers:``, kind ``layer``): each layer a deployed function
uses is published as a layer version, and the function lists it in ``Layers``; the function's
own zip carries only its code.

A layer's zip holds its ``python/`` folder under ``python/`` (Lambda extracts it under ``/opt``,
so ``/opt/python`` is on ``sys.path``), written byte for byte the same from the same files
(:func:`stepkit.runtime.bundle.write_zip`). The layer's content digest (of its files) is part
of the resource, so an unchanged layer is unchanged in the plan and not published again; a
changed one is a new version, and the functions using it are updated to it (their ``layers``
name the digests). A publish whose content, description and runtimes equal the newest version
on the target (left by a deploy killed before it recorded the version) reuses that version.

Versions are kept while the stack lives (a function's published versions may still name an
older one, as CloudFormation's ``UpdateReplacePolicy: Retain`` keeps them); ``stepkit destroy``
deletes every version this stack's deploys published.

Every target publishes real layer versions: the local endpoint and AWS, and LocalStack, whose
community Lambda provider stores layer versions and hands them with the function to stepkit's
executor (``cfg.layers`` in :mod:`stepkit_localstack.executor`), which puts them on ``sys.path``
(LocalStack's own executor would not: mounting layers is a Pro feature, localstack#7204).
Layer versions cannot be tagged: the name (``<stack>-<stage>-<layer>``) is what makes one ours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from stepkit.deploy.providers.base import MISSING, OURS, BuildContext, Provider, Template, logical_id
from stepkit.deploy.resources import Resource
from stepkit.deploy.state import Recorded
from stepkit.runtime.bundle import source_files, write_zip
from stepkit.stack.layers import LAYER_PYTHON_DIR

if TYPE_CHECKING:
    from stepkit.stack.project import Project, ProjectLayer


@dataclass(frozen=True)
class Layer(Resource):
    kind: ClassVar[str] = "layer"
    order: ClassVar[int] = 45
    """Before the functions that list it."""

    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    content_digest: str = ""
    """Of the layer's files (:func:`layer_digest`): a new digest means a new version."""
    python_dir: Path = Path()

    def _not_compared(self) -> tuple[str, ...]:
        return ("python_dir",)

    def display(self) -> dict[str, Any]:
        out = self.properties()
        out["content_digest"] = self.content_digest[:12]
        return out

    @property
    def reference(self) -> str:
        """How a function's ``layers`` names this content: it changes with the content."""
        return f"{self.name}@{self.content_digest[:12]}"


# --- the layer's zip --------------------------------------------------------------------------


def layer_files(python_dir: Path) -> dict[str, Path]:
    """The layer's zip: its ``python/`` folder, under ``python/``."""
    return {f"{LAYER_PYTHON_DIR}/{name}": path for name, path in source_files(python_dir)}


def layer_digest(python_dir: Path) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(layer_files(python_dir).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def layer_zip_name(name: str, python_dir: Path) -> str:
    return f"layer-{name}-{layer_digest(python_dir)[:16]}.zip"


def write_layer_zip(name: str, python_dir: Path, out_dir: Path) -> Path:
    """The layer's zip in ``out_dir``, named by its digest (kept if already there)."""
    path = out_dir / layer_zip_name(name, python_dir)
    if not path.is_file():
        out_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".zip.partial")
        write_zip(partial, layer_files(python_dir))
        partial.replace(path)
    return path


def layers_used(project: Project, functions: list[str]) -> list[ProjectLayer]:
    """The layers the ``functions`` use, each once, in the stack file's order."""
    used = {name for fn in functions for name in project.function(fn).settings.layers}
    return [layer for layer in project.layers() if layer.name in used]


def function_layers(project: Project, function: str) -> list[dict[str, str]]:
    """A function's ``Layers`` in a template: the ARN (``Ref``) of each layer's version, in order."""
    return [{"Ref": logical_id(f"layer:{layer.name}")} for layer in project.layers_of(project.function(function))]


# --- the desired resources ----------------------------------------------------------------------


def build(ctx: BuildContext) -> None:
    """A ``Layer`` for each declared layer a function uses."""
    for layer in layers_used(ctx.project, [fn.name for fn in ctx.project.functions()]):
        ctx.check_length("layer", ctx.names.function(layer.name), f"layers.{layer.name}")
        if not layer.python_dir.is_dir():
            continue  # the project's own checks report it
        ctx.add(Layer(logical=layer.name, name=ctx.names.function(layer.name), description=layer.settings.description,
                      compatible_runtimes=tuple(layer.settings.compatible_runtimes),
                      content_digest=layer_digest(layer.python_dir) if ctx.compute_digests else "",
                      python_dir=layer.python_dir))


# --- on a target --------------------------------------------------------------------------------


class LayerProvider(Provider):
    """The Lambda calls behind ``Layer`` (its zip from the deployment: ``api.layer_code``)."""

    resource = Layer

    def _newest(self, name: str) -> dict[str, Any] | None:
        versions = self.client("lambda").list_layer_versions(LayerName=name, MaxItems=1).get("LayerVersions", [])
        return versions[0] if versions else None

    def _recorded(self, name: str) -> Recorded | None:
        return next((rec for rec in self.api.records() if rec.kind == Layer.kind and rec.name == name
                     and rec.outputs.get("version") is not None), None)

    def lookup(self, name: str, r: Resource | None) -> str:
        """Recorded: whether the recorded version is still there (deleted behind the deploy's
        back, it is published again). Not recorded: whether the name has any version (adopted)."""
        rec = self._recorded(name)
        if rec is not None:
            return MISSING if self.api.describe(rec) == MISSING else OURS
        return MISSING if self._newest(name) is None else OURS

    def latest_arn(self, name: str) -> str:
        """The version a function of the stack lists: the one the deploy recorded for the layer
        (its last ``put`` published or reused it), never merely the newest on the target,
        which may be another's or older content."""
        rec = self._recorded(name)
        if rec is None:
            raise RuntimeError(f"layer {name} has no recorded version: it is deployed before its functions")
        return str(rec.outputs["arn"])

    def put(self, r: Layer, rec: Recorded | None, existing: bool) -> dict[str, Any]:
        assert self.api.layer_code is not None, "the deployment provides the layers' zips"
        lam = self.client("lambda")
        content, sha256 = self.api.layer_code(r)
        newest = self._newest(r.name)
        current = lam.get_layer_version(LayerName=r.name, VersionNumber=newest["Version"]) if newest else None
        if current is not None and (current["Content"].get("CodeSha256"), current.get("Description", ""),
                                    tuple(current.get("CompatibleRuntimes") or ())) == (
                                        sha256, r.description, r.compatible_runtimes):
            published = current
        else:
            options: dict[str, Any] = {"Description": r.description} if r.description else {}
            if r.compatible_runtimes:
                options["CompatibleRuntimes"] = list(r.compatible_runtimes)
            published = lam.publish_layer_version(LayerName=r.name, Content=content, **options)
        rec = rec or self._recorded(r.name)  # a recorded layer published again keeps its older versions
        earlier = rec.outputs.get("versions", []) if rec is not None else []
        return {"arn": published["LayerVersionArn"], "version": published["Version"],
                "versions": sorted({*earlier, published["Version"]})}

    def delete(self, rec: Recorded) -> None:
        """Every version this stack published; for a record a deploy left pending (it may have
        published one before it was killed), every version under the stack's layer name."""
        lam = self.client("lambda")
        versions = rec.outputs.get("versions")
        if versions is None:
            pages = lam.get_paginator("list_layer_versions").paginate(LayerName=rec.name)
            versions = [v["Version"] for page in pages for v in page.get("LayerVersions", [])]
        for version in versions:
            lam.delete_layer_version(LayerName=rec.name, VersionNumber=version)

    def describe(self, rec: Recorded) -> str:
        """``present`` while the recorded version is there (its ARN, in the record, names it)."""
        version = rec.outputs.get("version")
        if version is None:
            return MISSING
        self.client("lambda").get_layer_version(LayerName=rec.name, VersionNumber=version)
        return "present"

    @classmethod
    def template(cls, r: Layer, template: Template) -> None:
        """An ``AWS::Lambda::LayerVersion``, its zip in the ``CodeBucket`` parameter; a new
        version replaces the old one, which is kept (a rollback still finds it)."""
        properties: dict[str, Any] = {
            "LayerName": r.name,
            "Content": {"S3Bucket": {"Ref": "CodeBucket"},
                        "S3Key": {"Fn::Sub": f"${{CodePrefix}}{layer_zip_name(r.logical, r.python_dir)}"}},
        }
        if r.description:
            properties["Description"] = r.description
        if r.compatible_runtimes:
            properties["CompatibleRuntimes"] = list(r.compatible_runtimes)
        template.add(r, "AWS::Lambda::LayerVersion", properties)
        body = template.resources[logical_id(r.key)]
        body["UpdateReplacePolicy"], body["DeletionPolicy"] = "Retain", "Delete"
