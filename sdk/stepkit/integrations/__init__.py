"""What a Task state's ``Resource`` means: a registry from resources to handlers, the
mocks of a MockConfigFile, the AWS service integrations. They implement the engine's task
interface (``stepkit.engine.tasks``)."""

from stepkit.integrations.registry import IntegrationRegistry

__all__ = ["IntegrationRegistry"]
