"""The deployer's errors: each says what is wrong and what to do about it."""

from __future__ import annotations


class DeployInputError(Exception):
    """The stack, its files or the arguments are wrong; found before anything was touched."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class TargetError(Exception):
    """The target cannot be used: no credentials, an endpoint that does not answer, a recorded
    deploy in another account or region. Found before anything was touched."""


class DeployError(Exception):
    """An API call failed while deploying or destroying; what was done before is recorded."""

    def __init__(self, message: str, done: int = 0) -> None:
        super().__init__(message)
        self.done = done
