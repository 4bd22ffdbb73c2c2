"""`python -m bot` is the same as the `zonebot` command."""

import sys

from bot.cli import main

sys.exit(main())
