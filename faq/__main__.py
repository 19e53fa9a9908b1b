"""Entry point for `python -m faq`."""

from faq.cli import main

raise SystemExit(main())
