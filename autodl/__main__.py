"""Allow ``python -m autodl``."""

from autodl.cli import main

main()
