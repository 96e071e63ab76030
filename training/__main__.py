"""Entry point of ``python -m training``."""

from .cli import main

raise SystemExit(main())
