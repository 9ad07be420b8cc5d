"""``python -m stepkit.cli``: the same as the ``stepkit`` command."""

from stepkit.cli import main

main()
