"""What the unit tests of the Lambda service share: a runtime that records the functions it is
given (and can hold one at a gate), and zips made from source text."""

from __future__ import annotations

import io
import threading
import zipfile

from stepkit.runtime import FunctionConfig


class GatedRuntime:
    """A runtime whose ``add_function`` records the configuration, after waiting at a gate for
    chosen handlers."""

    def __init__(self) -> None:
        self.configs: dict[str, FunctionConfig] = {}
        self.gates: dict[str, threading.Event] = {}
        self.waiting = threading.Event()

    def add_function(self, config: FunctionConfig) -> None:
        gate = self.gates.get(config.handler)
        if gate is not None:
            self.waiting.set()
            assert gate.wait(60)
        self.configs[config.name] = config

    def function_names(self) -> list[str]:
        return sorted(self.configs)

    def get_function(self, name: str) -> FunctionConfig:
        return self.configs[name]

    def remove_function(self, name: str) -> None:
        self.configs.pop(name)


def zip_files(files: dict[str, str]) -> bytes:
    """A zip holding each ``name: text``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()
