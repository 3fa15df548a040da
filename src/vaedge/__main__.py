"""`python -m vaedge` is the `vaedge` command."""

from vaedge.entry import main

main()
