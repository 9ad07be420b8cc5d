"""Lambda versions and aliases (``PublishVersion``, ``ListVersionsByFunction``, the alias
operations): records beside the function's, kept by :class:`LambdaService`, which runs a
version that differs from ``$LATEST`` as a function of its own."""

from __future__ import annotations

import uuid
from typing import Any

from stepkit.endpoint.lambda_pages import LATEST, ApiPart, marker_page, public
from stepkit.endpoint.protocol import AwsError, RequestContext


class VersionsAndAliases(ApiPart):

    def PublishVersion(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        fn = self.service.function(name)
        if p.get("CodeSha256") and p["CodeSha256"] != fn["CodeSha256"]:
            raise AwsError("InvalidParameterValueException", f"CodeSHA256 ({p['CodeSha256']}) is different from "
                           f"current CodeSHA256 in $LATEST ({fn['CodeSha256']}). Please try again with the CodeSHA256 "
                           "in $LATEST.")
        if p.get("RevisionId") and p["RevisionId"] != fn["RevisionId"]:
            raise AwsError("PreconditionFailedException", "The Revision Id provided does not match the latest "
                           "Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
        if fn.get("State") != "Active":
            raise AwsError("ResourceConflictException", "The operation cannot be performed at this time. An update "
                           "is in progress for resource: " + fn["FunctionArn"])
        with self.service.lock:
            return public(self.service.publish(fn, p.get("Description")))

    def ListVersionsByFunction(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        fn = self.service.function(name)
        rows = [public(fn)] + [public(v) for _, v in sorted(self.service.versions.get(name, {}).items(),
                                                               key=lambda x: int(x[0]))]
        return marker_page(rows, p, "Versions")

    def _alias_out(self, rec: dict[str, Any]) -> dict[str, Any]:
        return public(rec)

    def CreateAlias(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        self.service.function(name)
        version = p["FunctionVersion"]
        if version != LATEST and version not in self.service.versions.get(name, {}):
            raise AwsError("ResourceNotFoundException", f"Function not found: {self.service.arn(name, version)}")
        with self.service.lock:
            aliases = self.service.aliases.setdefault(name, {})
            if p["Name"] in aliases:
                alias_arn = self.service.arn(name, p["Name"])
                raise AwsError("ResourceConflictException", f"Alias already exists: {alias_arn}")
            rec = {"AliasArn": self.service.arn(name, p["Name"]), "Name": p["Name"], "FunctionVersion": version,
                   "Description": p.get("Description", ""), "RevisionId": str(uuid.uuid4()), "_function": name}
            if p.get("RoutingConfig"):
                rec["RoutingConfig"] = p["RoutingConfig"]
            aliases[p["Name"]] = rec
            self.service.store.put("lambda_alias", f"{name}:{p['Name']}", rec)
        return self._alias_out(rec)

    def _alias(self, p: dict) -> tuple[str, dict[str, Any]]:
        name, _ = self.service.ref(p["FunctionName"])
        self.service.function(name)
        rec = self.service.aliases.get(name, {}).get(p["Name"])
        if rec is None:
            raise AwsError("ResourceNotFoundException", f"Cannot find alias arn: {self.service.arn(name, p['Name'])}")
        return name, rec

    def GetAlias(self, p: dict, ctx: RequestContext) -> dict:
        return self._alias_out(self._alias(p)[1])

    def UpdateAlias(self, p: dict, ctx: RequestContext) -> dict:
        name, rec = self._alias(p)
        version = p.get("FunctionVersion", rec["FunctionVersion"])
        if version != LATEST and version not in self.service.versions.get(name, {}):
            raise AwsError("ResourceNotFoundException", f"Function not found: {self.service.arn(name, version)}")
        with self.service.lock:
            rec.update(FunctionVersion=version, RevisionId=str(uuid.uuid4()))
            if "Description" in p:
                rec["Description"] = p["Description"]
            if "RoutingConfig" in p:
                rec["RoutingConfig"] = p["RoutingConfig"]
            self.service.store.put("lambda_alias", f"{name}:{rec['Name']}", rec)
        return self._alias_out(rec)

    def DeleteAlias(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        with self.service.lock:
            self.service.aliases.get(name, {}).pop(p["Name"], None)
            self.service.store.delete("lambda_alias", f"{name}:{p['Name']}")
        return {}

    def ListAliases(self, p: dict, ctx: RequestContext) -> dict:
        name, _ = self.service.ref(p["FunctionName"])
        self.service.function(name)
        rows = [self._alias_out(a) for _, a in sorted(self.service.aliases.get(name, {}).items())
                if not p.get("FunctionVersion") or a["FunctionVersion"] == p["FunctionVersion"]]
        return marker_page(rows, p, "Aliases")
