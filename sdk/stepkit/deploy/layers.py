"""Lambda layers in ``stepkit package --format cloudformation``.

Each layer a deployed function uses becomes an ``AWS::Lambda::LayerVersion`` whose zip holds
the layer's ``python/`` folder (Lambda extracts it under ``/opt``, so ``/opt/python`` is on
``sys.path``), and each function lists its layers' ARNs (``Ref`` of a LayerVersion) in
``Layers``. The function's own zip then carries only its code.

``stepkit deploy`` (every target) ships a layer's files inside each function's bundle
instead (:func:`stepkit.runtime.bundle.code_files`): the same code reaches the function,
without a layer version to publish.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from stepkit.runtime.bundle import source_files, write_zip
from stepkit.stack.layers import LAYER_PYTHON_DIR
from stepkit.stack.project import Project, ProjectLayer


def layer_files(layer: ProjectLayer) -> dict[str, Path]:
    """The layer's zip: its ``python/`` folder, under ``python/``."""
    return {f"{LAYER_PYTHON_DIR}/{name}": path for name, path in source_files(layer.python_dir)}


def layer_digest(layer: ProjectLayer) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(layer_files(layer).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def layer_zip_name(layer: ProjectLayer) -> str:
    return f"layer-{layer.name}-{layer_digest(layer)[:16]}.zip"


def layer_logical_id(name: str) -> str:
    from stepkit.deploy.providers.base import logical_id

    return logical_id(f"layer:{name}")


def layers_used(project: Project, functions: list[str]) -> list[ProjectLayer]:
    """The layers the deployed ``functions`` use, each once, in the stack file's order."""
    used = {name for fn in functions for name in project.function(fn).settings.layers}
    return [layer for layer in project.layers() if layer.name in used]


def layer_version(layer: ProjectLayer, physical_name: str) -> dict[str, Any]:
    """The ``AWS::Lambda::LayerVersion`` of ``layer``; its zip is in the ``CodeBucket``."""
    properties: dict[str, Any] = {
        "LayerName": physical_name,
        "Content": {"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Fn::Sub": f"${{CodePrefix}}{layer_zip_name(layer)}"}},
    }
    if layer.settings.description:
        properties["Description"] = layer.settings.description
    if layer.settings.compatible_runtimes:
        properties["CompatibleRuntimes"] = list(layer.settings.compatible_runtimes)
    # A new version replaces the old one; keeping the old lets a rollback still find it.
    return {"Type": "AWS::Lambda::LayerVersion", "UpdateReplacePolicy": "Retain", "DeletionPolicy": "Delete",
            "Properties": properties}


def function_layers(project: Project, function: str) -> list[dict[str, str]]:
    """A function's ``Layers``: the ARN (``Ref``) of each of its layers' versions, in order."""
    return [{"Ref": layer_logical_id(layer.name)} for layer in project.layers_of(project.function(function))]


def write_layer_zips(project: Project, functions: list[str], code: Path) -> int:
    """Write the zip of every layer the ``functions`` use into ``code``; how many."""
    layers = layers_used(project, functions)
    for layer in layers:
        write_zip(code / layer_zip_name(layer), layer_files(layer))
    return len(layers)
