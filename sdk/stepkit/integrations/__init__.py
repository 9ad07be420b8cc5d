"""What a Task state's ``Resource`` means: a registry from resources to handlers."""

from stepkit.integrations.registry import Integration, IntegrationRegistry, TaskInvocation

__all__ = ["Integration", "IntegrationRegistry", "TaskInvocation"]
