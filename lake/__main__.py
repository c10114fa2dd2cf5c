"""``python -m lake``: the command line."""

from lake.faces.cli import main

main()
