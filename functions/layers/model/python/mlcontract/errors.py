"""Errors more than one function raises; the class name is the ``errorType`` Lambda reports
(and the state machines' Retry/Catch match on it), so each is defined once, here."""

from __future__ import annotations


class InvalidEventError(ValueError):
    """The event does not have the fields this function needs."""


class ModelNotFoundError(Exception):
    """No such model, alias or version in the registry, or an artifact it names is gone."""


class ModelIntegrityError(Exception):
    """An artifact's content hash differs from the one recorded when it was written."""


class InvalidPolicyError(ValueError):
    """A routing policy document is not valid (the message names the field at fault)."""


class NoChampionError(Exception):
    """A policy needs the registry's champion and no version is registered as champion."""


class PolicyConflictError(Exception):
    """The model's routing policy changed since the revision the writer read (a conditional
    write lost the race); read it again and retry."""


class UnknownRequestError(LookupError):
    """Feedback names a request id with no remembered prediction (never made, or expired)."""


class FeedbackAlreadyRecordedError(Exception):
    """Feedback for this request id was already recorded; a request counts once."""
