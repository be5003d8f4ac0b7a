"""`python -m zoo` runs the `zoo` command."""

from zoo.cli import console_main

console_main()
