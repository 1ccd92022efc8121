"""`python -m bot` runs the roundup command line."""

from bot.cli import run

run()
