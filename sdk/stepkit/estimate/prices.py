"""The dated price table (``stepkit/data/prices.json``): Step Functions Standard and Express,
Lambda, per region and architecture, with the free tier kept apart."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Architecture = Literal["x86_64", "arm64"]


class _PriceModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Tier(_PriceModel):
    """A price for the units up to ``up_to`` (cumulative, per month); ``None``: the rest."""

    up_to: Annotated[float, Field(gt=0)] | None
    price: Annotated[float, Field(ge=0)]


def _check_tiers(tiers: list[Tier]) -> list[Tier]:
    bounds = [t.up_to for t in tiers]
    if not tiers or bounds[-1] is not None or None in bounds[:-1]:
        raise ValueError("tiers must end with one open tier (up_to: null)")
    closed = [b for b in bounds if b is not None]
    if closed != sorted(closed) or len(set(closed)) != len(closed):
        raise ValueError("tier bounds must increase")
    return tiers


class StandardPrices(_PriceModel):
    per_1000_transitions: Annotated[float, Field(ge=0)]


class ExpressPrices(_PriceModel):
    requests_per_million: Annotated[float, Field(ge=0)]
    gb_hour: list[Tier]

    @model_validator(mode="after")
    def _tiers(self) -> ExpressPrices:
        _check_tiers(self.gb_hour)
        return self


class LambdaPrices(_PriceModel):
    requests_per_million: Annotated[float, Field(ge=0)]
    gb_second: dict[Architecture, list[Tier]]

    @model_validator(mode="after")
    def _tiers(self) -> LambdaPrices:
        for tiers in self.gb_second.values():
            _check_tiers(tiers)
        return self


class RequestPrices(_PriceModel):
    """S3 Standard's and SQS's request prices (the first SQS tier: up to 100 billion a month)."""

    s3_tier1_per_1000: Annotated[float, Field(ge=0)]
    """PUT, COPY, POST and LIST requests."""
    s3_tier2_per_1000: Annotated[float, Field(ge=0)]
    """GET, SELECT and every other request (DELETE and CANCEL are free)."""
    sqs_standard_per_million: Annotated[float, Field(ge=0)]
    sqs_fifo_per_million: Annotated[float, Field(ge=0)]


class RegionPrices(_PriceModel):
    standard: StandardPrices
    express: ExpressPrices | None = None
    lambda_: LambdaPrices | None = Field(default=None, alias="lambda")
    requests: RequestPrices | None = None


class FreeTier(_PriceModel):
    """Monthly and per account: what a month's first usage does not pay for."""

    standard_transitions: Annotated[int, Field(ge=0)]
    lambda_requests: Annotated[int, Field(ge=0)]
    lambda_gb_seconds: Annotated[float, Field(ge=0)]


class PriceTable(_PriceModel):
    currency: Literal["USD"]
    checked: str
    """The day the prices were read from ``sources``."""
    sources: dict[str, str]
    notes: list[str] = []
    free_tier: FreeTier
    regions: dict[str, RegionPrices]

    def region(self, name: str) -> RegionPrices:
        try:
            return self.regions[name]
        except KeyError:
            known = ", ".join(sorted(self.regions))
            raise UnknownRegion(
                f"no prices for region {name!r} in the table of {self.checked} (regions: {known})"
            ) from None


class UnknownRegion(ValueError):
    pass


class MissingPrices(ValueError):
    """The table has the region but not the prices of one service there."""


@cache
def load_prices() -> PriceTable:
    """The packaged price table."""
    text = resources.files("stepkit").joinpath("data/prices.json").read_text()
    return PriceTable.model_validate(json.loads(text))
