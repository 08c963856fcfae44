"""Allows `python -m builders` as a synonym of the `corpus` command."""

from builders.cli import main

raise SystemExit(main())
