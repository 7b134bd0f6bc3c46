#!/usr/bin/env python3
"""Embed the knowledge folder into the vector store: ``python ingest.py [--knowledge DIR] [--data DIR]``."""

import sys

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["ingest", *sys.argv[1:]]))
