"""The dated quota table (``stepkit/data/quotas.json``) the simulation runs against."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class _QuotaModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TokenBucket(_QuotaModel):
    """AWS's throttling: a bucket of ``bucket`` tokens refilled at ``refill_per_second``."""

    bucket: Annotated[float, Field(gt=0)]
    refill_per_second: Annotated[float, Field(gt=0)]


class RegionBuckets(_QuotaModel):
    state_transition: TokenBucket
    start_execution: TokenBucket


class LambdaQuotas(_QuotaModel):
    account_concurrency: Annotated[int, Field(gt=0)]
    scale_step: Annotated[int, Field(gt=0)]
    """Execution environments a function may add per ``scale_period_seconds``."""
    scale_period_seconds: Annotated[float, Field(gt=0)]
    min_unreserved: Annotated[int, Field(ge=0)]


class StepFunctionsQuotas(_QuotaModel):
    inline_map_concurrency: Annotated[int, Field(gt=0)]
    distributed_map_max_concurrency: Annotated[int, Field(gt=0)]
    express_start_execution: TokenBucket
    default: RegionBuckets
    regions: dict[str, RegionBuckets]

    def buckets(self, region: str) -> RegionBuckets:
        return self.regions.get(region, self.default)


class QuotaTable(_QuotaModel):
    checked: str
    sources: dict[str, str]
    notes: list[str] = []
    lambda_: LambdaQuotas = Field(alias="lambda")
    stepfunctions: StepFunctionsQuotas


@cache
def load_quotas() -> QuotaTable:
    text = resources.files("stepkit").joinpath("data/quotas.json").read_text()
    return QuotaTable.model_validate(json.loads(text))
