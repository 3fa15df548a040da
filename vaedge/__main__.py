"""`python -m vaedge` is the `vaedge` command."""

from vaedge.cli import main

main()
