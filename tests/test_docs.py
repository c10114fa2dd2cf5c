"""Every command documents itself with an example, and the README shows every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.main import get_command

from lake.faces.cli import app

ROOT = Path(__file__).resolve().parent.parent


def _commands(group, prefix: tuple[str, ...] = ()) -> list:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group of subcommands
            found += _commands(command, prefix + (name,))
        else:
            found.append((prefix + (name,), command))
    return found


COMMANDS = _commands(get_command(app))


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_has_help_with_an_example(path, command):
    assert command.help, f"lake {' '.join(path)} has no help"
    assert "Example:  lake " in command.help, f"lake {' '.join(path)} has no example"


@pytest.mark.parametrize("path,command", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_is_in_the_readme(path, command):
    readme = (ROOT / "README.md").read_text()
    assert f"lake {' '.join(path)}" in readme


def test_the_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block
