"""``stepkit package --format cloudformation``: the same stack as a CloudFormation template.

The resources are the very dataclasses deploy creates, built with the region, account and
partition left as ``${AWS::Region}``-style pseudo parameters, so names, ARNs and the IAM
policies are identical to a stepkit deploy. Function code is referred to in an S3 bucket
given as the ``CodeBucket`` parameter (the zips are written beside the template, named by
their digest); environment values read with ``${env:NAME}`` become ``NoEcho`` parameters,
so no secret is written into the template.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stepkit.deploy.chalice_api import RestApi
from stepkit.deploy.desired import build_desired
from stepkit.deploy.layers import function_layers, layer_logical_id, layer_version, layers_used, write_layer_zips
from stepkit.deploy.naming import Names
from stepkit.deploy.providers import PROVIDERS
from stepkit.deploy.providers.base import Template, fn_sub, logical_id
from stepkit.deploy.resources import (
    Function,
)
from stepkit.runtime.bundle import build_bundle
from stepkit.runtime.config import FunctionConfig
from stepkit.stack.project import Project
from stepkit.stack.references import camel

_SECRET = re.compile(r"\x00secret:([A-Za-z_][A-Za-z0-9_]*)\x00")


class _SecretMarkers(Mapping[str, str]):
    """Stands for the deploying shell's environment: every ``${env:NAME}`` becomes a marker
    that the template turns into a NoEcho parameter."""

    def __getitem__(self, key: str) -> str:
        return f"\x00secret:{key}\x00"

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def build_template(project: Project, stage: str) -> tuple[dict[str, Any], list[Function]]:
    names = Names(project.name, stage, "${AWS::Region}", "${AWS::AccountId}", "${AWS::Partition}")
    desired = build_desired(project, stage, names, _SecretMarkers())
    template = Template(project, names, desired.resources, parameters={
        "CodeBucket": {"Type": "String", "Description": "S3 bucket holding the function zips of code/"},
        "CodePrefix": {"Type": "String", "Default": "", "Description": "Key prefix of the zips in CodeBucket"},
    })
    parameters, resources, add = template.parameters, template.resources, template.add
    functions: list[Function] = []

    def ref_function(logical: str) -> dict[str, Any]:
        return {"Ref": logical_id(f"function:{logical}")}

    for r in desired.resources:
        if r.kind in PROVIDERS:
            PROVIDERS[r.kind].template(r, template)
        elif isinstance(r, Function):
            functions.append(r)
            variables: dict[str, Any] = {}
            for key, value in r.environment.items():
                secret = _SECRET.fullmatch(value)
                if secret:
                    parameter = f"Secret{camel(secret.group(1).lower())}"
                    parameters[parameter] = {"Type": "String", "NoEcho": True,
                                             "Description": f"environment {key} of {r.logical}"}
                    variables[key] = {"Ref": parameter}
                else:
                    variables[key] = fn_sub(_SECRET.sub("", value))
            properties = {
                "FunctionName": r.name, "Handler": r.handler, "Runtime": r.runtime, "MemorySize": r.memory_size,
                "Timeout": r.timeout, "Architectures": [r.architecture],
                "Role": {"Fn::GetAtt": [logical_id(f"role:function-{r.logical}"), "Arn"]},
                "Code": {"S3Bucket": {"Ref": "CodeBucket"},
                         "S3Key": {"Fn::Sub": f"${{CodePrefix}}{zip_name(r)}"}},
                "LoggingConfig": {"LogGroup": {"Ref": logical_id(f"log_group:function-{r.logical}")}},
            }
            if r.description:
                properties["Description"] = r.description
            if variables:
                properties["Environment"] = {"Variables": variables}
            if r.reserved_concurrency is not None:
                properties["ReservedConcurrentExecutions"] = r.reserved_concurrency
            if function_layers(project, r.logical):
                properties["Layers"] = function_layers(project, r.logical)
            add(r, "AWS::Lambda::Function", properties)
        elif isinstance(r, RestApi):
            resources.update(rest_api_resources(r, logical_id(r.key), logical_id(f"function:{r.function}")))
    for layer in layers_used(project, [f.logical for f in functions]):
        resources[layer_logical_id(layer.name)] = layer_version(layer, names.function(layer.name))
    outputs = template.outputs
    for r in desired.resources:
        if isinstance(r, Function):
            attribute = {"function": "Arn"}[r.kind]
            outputs[logical_id(r.key) + "Arn"] = {"Value": {"Fn::GetAtt": [logical_id(r.key), attribute]}}
    for r in desired.resources:
        if isinstance(r, RestApi):
            outputs[logical_id(r.key) + "Url"] = {"Value": {"Fn::Sub": (
                f"https://${{{logical_id(r.key)}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{r.stage}/")}}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"stepkit stack {project.name}, stage {stage} (generated by `stepkit package`)",
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    }, functions


def rest_api_resources(r: RestApi, api: str, function: str) -> dict[str, Any]:
    """A stack's REST API: its definition (Chalice's swagger, the function's ARN made
    ``Fn::Sub``), a deployment to its stage, and the permission for API Gateway to invoke. The
    deployment's logical id carries the definition's digest: CloudFormation deploys the API
    again only when the resource is new."""
    digest = hashlib.sha256(r.swagger.encode()).hexdigest()[:10]
    return {
        api: {"Type": "AWS::ApiGateway::RestApi", "Properties": {
            "Name": r.name, "Body": fn_sub(json.loads(r.swagger)), "EndpointConfiguration": {"Types": ["EDGE"]}}},
        f"{api}Deployment{digest}": {"Type": "AWS::ApiGateway::Deployment",
                             "Properties": {"RestApiId": {"Ref": api}, "StageName": r.stage}},
        f"{api}Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Ref": function}, "Action": "lambda:InvokeFunction",
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:"
                                     f"${{{api}}}/*"}}},
    }


def zip_name(function: Function) -> str:
    return f"{function.logical}-{function.code_digest[:16]}.zip"


def write_package(project: Project, stage: str, out_dir: Path) -> dict[str, Any]:
    """Write ``template.json``, ``code/<function>-<digest>.zip`` and ``code/layer-<name>-<digest>.zip``
    under ``out_dir``."""
    template, functions = build_template(project, stage)
    code = out_dir / "code"
    code.mkdir(parents=True, exist_ok=True)
    for function in functions:
        # The function's own code: its layers are LayerVersions of the template.
        result = build_bundle(FunctionConfig.from_project(project.function(function.logical)),
                              project.root / ".stepkit" / "build" / "cloudformation")
        shutil.copyfile(result.path, code / zip_name(function))
    layers = write_layer_zips(project, [f.logical for f in functions], code)
    path = out_dir / "template.json"
    path.write_text(json.dumps(template, indent=2) + "\n", encoding="utf-8")
    return {"template": path, "code": code, "zips": len(functions) + layers}
