"""``python -m bot`` entry point."""

from bot.cli import main

raise SystemExit(main())
