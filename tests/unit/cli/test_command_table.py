"""The CLI's table of lazily loaded commands matches the commands its modules define."""

import importlib
import pkgutil

import stepkit.cli
from stepkit.cli import COMMAND_MODULES, load_command


def test_every_command_module_is_in_the_table_and_nothing_else():
    defined = {}
    for info in pkgutil.iter_modules(stepkit.cli.__path__):
        if info.name.endswith("_cmd"):
            module = importlib.import_module(f"stepkit.cli.{info.name}")
            for command in module.COMMANDS:
                defined[command.name] = info.name
    assert defined == COMMAND_MODULES


def test_each_command_loads_with_help():
    for name in COMMAND_MODULES:
        command = load_command(name)
        assert command is not None and command.name == name
        assert command.help, f"{name} has no help text"


def test_unknown_command_is_none():
    assert load_command("nope") is None
