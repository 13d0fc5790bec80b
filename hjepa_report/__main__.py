"""`python -m hjepa_report RUN_DIR` runs the command line."""

from .cli import main

main()
