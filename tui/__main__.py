"""``python -m tui`` runs the same entry point as the ``pixverse-tui`` script."""

from tui.cli.main import main

raise SystemExit(main())
