"""Errors more than one function raises; the class name is the ``errorType`` Lambda reports
(and the state machines' Retry/Catch match on it), so each is defined once, here."""

from __future__ import annotations


class InvalidEventError(ValueError):
    """The event does not have the fields this function needs."""


class ModelNotFoundError(Exception):
    """No such model, alias or version in the registry, or an artifact it names is gone."""


class ModelIntegrityError(Exception):
    """An artifact's content hash differs from the one recorded when it was written."""
