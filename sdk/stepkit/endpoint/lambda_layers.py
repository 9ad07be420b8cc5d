"""Lambda layers: ``PublishLayerVersion``, ``GetLayerVersion(ByArn)``, ``ListLayers``,
``ListLayerVersions``, ``DeleteLayerVersion``, the layer version permissions, and the
``Layers`` of a function (checked as Lambda checks them, applied by the runtime).

A layer version's zip is stored as function code is (:class:`~stepkit.endpoint.lambda_code.CodeStore`:
``zips/<sha256>.zip``, unpacked once into ``code/<sha256>/``), so identical content is kept
once; ``Content.Location`` is the endpoint's URL of that zip, as GetFunction's ``Code.Location``.
Versions are numbered 1, 2, 3... per layer name and a number is never given again, even after
its version is deleted (the next number is a record of its own). A function keeps the content
of its layer versions (the record names their folders), so deleting a version a function uses
does not break the function, as on Lambda.

The messages are AWS's (LocalStack's parity snapshots of them, see its lambda provider).
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from stepkit.endpoint.lambda_pages import ApiPart, marker_page, now_text
from stepkit.endpoint.protocol import AwsError, RequestContext
from stepkit.runtime.config import layer_site_dirs

#: Lambda's limit on the layers of one function.
MAX_LAYERS = 5
_LAYER_ARN = re.compile(r"arn:(?P<partition>[a-zA-Z0-9-]+):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
                        r"layer:(?P<name>[a-zA-Z0-9-_]+)(?::(?P<version>[0-9]+))?")
_LISTED = ("LayerVersionArn", "Version", "Description", "CreatedDate", "CompatibleRuntimes", "LicenseInfo",
           "CompatibleArchitectures")
_ARN_PATTERN = (r"(arn:[a-zA-Z0-9-]+:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:"
                r"[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)")
_NOT_FOUND = "The resource you requested does not exist."


class LayerVersions(ApiPart):
    """The layer versions of the endpoint's account and region, kept in the store:
    ``lambda_layer_version`` records (``<name>:<version>``) and, per layer name, the next
    version number (``lambda_layer``)."""

    def __init__(self, service: Any) -> None:
        super().__init__(service)
        self.versions: dict[str, dict[int, dict[str, Any]]] = {}
        self.next_version: dict[str, int] = {}

    def load(self) -> None:
        for rec in self.service.store.all("lambda_layer_version"):
            self.versions.setdefault(rec["_name"], {})[rec["Version"]] = rec
        for rec in self.service.store.all("lambda_layer"):
            self.next_version[rec["LayerName"]] = rec["NextVersion"]
        for name, versions in self.versions.items():  # a counter saved before its version: never behind
            self.next_version[name] = max(self.next_version.get(name, 1), max(versions) + 1)

    # -- names ----------------------------------------------------------------------------
    def layer_arn(self, name: str) -> str:
        return f"arn:aws:lambda:{self.service.region}:{self.service.account}:layer:{name}"

    @staticmethod
    def _name(name_or_arn: str) -> str:
        m = _LAYER_ARN.fullmatch(name_or_arn)
        return m.group("name") if m else name_or_arn

    def code_in_use(self) -> set[str]:
        """The code folders (sha256) of every stored layer version."""
        return {rec["_code"] for versions in self.versions.values() for rec in versions.values()}

    def _out(self, rec: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if not k.startswith("_")}
        out["Content"] = {**rec["Content"], "Location": self.service.code_url(rec["_code"])}
        return out

    def _version(self, name_or_arn: str, number: int) -> dict[str, Any]:
        if number < 1:
            raise AwsError("InvalidParameterValueException", "Layer Version Cannot be less than 1")
        rec = self.versions.get(self._name(name_or_arn), {}).get(number)
        if rec is None:
            raise AwsError("ResourceNotFoundException", _NOT_FOUND)
        return rec

    # -- the operations -------------------------------------------------------------------
    def PublishLayerVersion(self, p: dict, ctx: RequestContext) -> dict:
        name = self._name(p["LayerName"])
        with self.service.store_code(p["Content"], "PublishLayerVersion") as stored, self.service.lock:
            number = self.next_version.get(name, 1)
            # The counter first: killed between the two, a number is skipped, never reused. Memory
            # changes only after the store took each write (a failed write changes nothing).
            self.service.store.put("lambda_layer", name, {"LayerName": name, "NextVersion": number + 1})
            self.next_version[name] = number + 1
            rec: dict[str, Any] = {
                "Content": {"CodeSha256": stored.sha256, "CodeSize": stored.size},
                "LayerArn": self.layer_arn(name), "LayerVersionArn": f"{self.layer_arn(name)}:{number}",
                "Description": p.get("Description", ""), "CreatedDate": now_text(), "Version": number,
                "_name": name, "_code": stored.folder.name,
            }
            for key in ("CompatibleRuntimes", "LicenseInfo", "CompatibleArchitectures"):
                if p.get(key):
                    rec[key] = p[key]
            self.service.store.put("lambda_layer_version", f"{name}:{number}", rec)
            self.versions.setdefault(name, {})[number] = rec
            return self._out(rec)

    def GetLayerVersion(self, p: dict, ctx: RequestContext) -> dict:
        return self._out(self._version(p["LayerName"], p["VersionNumber"]))

    def GetLayerVersionByArn(self, p: dict, ctx: RequestContext) -> dict:
        m = _LAYER_ARN.fullmatch(p["Arn"])
        if m is None or m.group("version") is None:
            raise AwsError("ValidationException", f"1 validation error detected: Value '{p['Arn']}' at 'arn' failed "
                           f"to satisfy constraint: Member must satisfy regular expression pattern: {_ARN_PATTERN}")
        return self._out(self._version(m.group("name"), int(m.group("version"))))

    @staticmethod
    def _matches(rec: dict[str, Any], p: dict) -> bool:
        runtime, architecture = p.get("CompatibleRuntime"), p.get("CompatibleArchitecture")
        return ((not runtime or runtime in rec.get("CompatibleRuntimes", []))
                and (not architecture or architecture in rec.get("CompatibleArchitectures", [])))

    def _listed(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {k: rec[k] for k in _LISTED if k in rec}

    def ListLayers(self, p: dict, ctx: RequestContext) -> dict:
        """Each layer with its newest version that matches the filters (none: not listed)."""
        rows = []
        with self.service.lock:
            for name in sorted(self.versions):
                matching = [v for _, v in sorted(self.versions[name].items()) if self._matches(v, p)]
                if matching:
                    rows.append({"LayerName": name, "LayerArn": self.layer_arn(name),
                                 "LatestMatchingVersion": self._listed(matching[-1])})
        return marker_page(rows, p, "Layers")

    def ListLayerVersions(self, p: dict, ctx: RequestContext) -> dict:
        """The versions of a layer, newest first; none (not an error) for an unknown layer."""
        with self.service.lock:
            versions = self.versions.get(self._name(p["LayerName"]), {})
            rows = [self._listed(v) for _, v in sorted(versions.items(), reverse=True) if self._matches(v, p)]
        return marker_page(rows, p, "LayerVersions")

    def DeleteLayerVersion(self, p: dict, ctx: RequestContext) -> dict:
        """Idempotent, as on Lambda: a version that is not there is already deleted."""
        if p["VersionNumber"] < 1:
            raise AwsError("InvalidParameterValueException", "Layer Version Cannot be less than 1")
        name = self._name(p["LayerName"])
        with self.service.lock:
            if p["VersionNumber"] in self.versions.get(name, {}):
                self.service.store.delete("lambda_layer_version", f"{name}:{p['VersionNumber']}")
                del self.versions[name][p["VersionNumber"]]
                if not self.versions[name]:
                    del self.versions[name]
        self.service.collect_code()  # unless a function still uses it
        return {}

    # -- permissions ----------------------------------------------------------------------
    def _policy_target(self, p: dict) -> dict[str, Any]:
        name = self._name(p["LayerName"])
        rec = self.versions.get(name, {}).get(p["VersionNumber"])
        if rec is None:
            raise AwsError("ResourceNotFoundException",
                           f"Layer version {self.layer_arn(name)}:{p['VersionNumber']} does not exist.")
        if p.get("RevisionId") and p["RevisionId"] != rec.get("_policy", {}).get("RevisionId"):
            raise AwsError("PreconditionFailedException", "The Revision Id provided does not match the latest "
                           "Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id")
        return rec

    def _save_policy(self, rec: dict[str, Any], statements: dict[str, Any]) -> str:
        """Store the version with its new policy, then change the record in memory (a failed
        write changes nothing)."""
        revision = str(uuid.uuid4())
        updated = {k: v for k, v in rec.items() if k != "_policy"}
        if statements:
            updated["_policy"] = {"RevisionId": revision, "Statements": statements}
        self.service.store.put("lambda_layer_version", f"{rec['_name']}:{rec['Version']}", updated)
        self.versions[rec["_name"]][rec["Version"]] = updated  # replaced whole: a reader sees one or the other
        return revision

    def AddLayerVersionPermission(self, p: dict, ctx: RequestContext) -> dict:
        with self.service.lock:
            rec = self._policy_target(p)
            statements = dict(rec.get("_policy", {}).get("Statements", {}))
            if p["StatementId"] in statements:
                raise AwsError("ResourceConflictException", f"The statement id ({p['StatementId']}) provided already "
                               "exists. Please provide a new statement id, or remove the existing statement.")
            statement: dict[str, Any] = {"Sid": p["StatementId"], "Effect": "Allow", "Principal": p["Principal"],
                                         "Action": p["Action"], "Resource": rec["LayerVersionArn"]}
            if p.get("OrganizationId"):
                statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": p["OrganizationId"]}}
            statements[p["StatementId"]] = statement
            revision = self._save_policy(rec, statements)
        return {"Statement": json.dumps(statement), "RevisionId": revision}

    def GetLayerVersionPolicy(self, p: dict, ctx: RequestContext) -> dict:
        with self.service.lock:
            rec = self._policy_target({**p, "RevisionId": None})
            policy = rec.get("_policy")
            if policy is None:
                raise AwsError("ResourceNotFoundException", "No policy is associated with the given resource.")
            document = {"Version": "2012-10-17", "Id": "default", "Statement": list(policy["Statements"].values())}
            return {"Policy": json.dumps(document), "RevisionId": policy["RevisionId"]}

    def RemoveLayerVersionPermission(self, p: dict, ctx: RequestContext) -> dict:
        with self.service.lock:
            rec = self._policy_target(p)
            statements = dict(rec.get("_policy", {}).get("Statements", {}))
            if statements.pop(p["StatementId"], None) is None:
                raise AwsError("ResourceNotFoundException",
                               f"Statement {p['StatementId']} is not found in resource policy.")
            self._save_policy(rec, statements)
        return {}

    # -- a function's Layers --------------------------------------------------------------
    def resolve(self, arns: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        """A function's ``Layers`` as Lambda checks them: ``([{Arn, CodeSize}], code folders)``
        in the given order; ``AwsError`` for too many, a malformed, foreign or unknown ARN,
        or two versions of one layer."""
        if len(arns) > MAX_LAYERS:
            raise AwsError("InvalidParameterValueException", f"Cannot reference more than {MAX_LAYERS} layers.")
        seen: dict[str, str] = {}
        layers, folders = [], []
        region, account = self.service.region, self.service.account
        for arn in arns:
            m = _LAYER_ARN.fullmatch(arn)
            if m is None or m.group("version") is None:
                raise AwsError("ValidationException", f"1 validation error detected: Value '[{arn}]' at 'layers' "
                               "failed to satisfy constraint: Member must satisfy constraint: [Member must have length "
                               "less than or equal to 140, Member must have length greater than or equal to 1, Member "
                               f"must satisfy regular expression pattern: {_ARN_PATTERN}, Member must not be null]")
            if m.group("account") == account and m.group("region") != region:
                raise AwsError("InvalidParameterValueException", "Layers are not in the same region as the function. "
                               f"Layers are expected to be in region {region}.")
            if m.group("account") != account:
                raise AwsError("AccessDeniedException", f"User: arn:aws:iam::{account}:root is not authorized to "
                               f"perform: lambda:GetLayerVersion on resource: {arn} because no resource-based policy "
                               "allows the lambda:GetLayerVersion action", 403)
            rec = self.versions.get(m.group("name"), {}).get(int(m.group("version")))
            if rec is None:
                raise AwsError("InvalidParameterValueException", f"Layer version {arn} does not exist.")
            layer = arn.rsplit(":", 1)[0]
            if layer in seen:
                raise AwsError("InvalidParameterValueException", "Two different versions of the same layer are not "
                               "allowed to be referenced in the same function. "
                               f"{seen[layer]} and {arn} are versions of the same layer.")
            seen[layer] = arn
            layers.append({"Arn": arn, "CodeSize": rec["Content"]["CodeSize"]})
            folders.append(rec["_code"])
        return layers, folders


def layer_dirs(code_root: Path, folders: list[str], runtime: str) -> list[Path]:
    """Where a function's layers (their code folders under ``code_root``, in its order) put
    modules on ``sys.path``, as ``/opt/python`` on Lambda."""
    return layer_site_dirs([str(code_root / folder) for folder in folders], runtime)
