#!/usr/bin/env python
import os
import sys

# Commands that work on files alone: with no database configured they need no settings.
DATABASE_FREE_COMMANDS = {"logparse", "triage"}

if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in DATABASE_FREE_COMMANDS and not os.environ.get("DATABASE_URL"):
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings_cli")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
