#!/usr/bin/env python
import os
import sys

# Commands that work on files alone: they run on settings that need no database, secret or
# server configuration, whatever the environment says (a shell set up for the server too).
DATABASE_FREE_COMMANDS = {"logparse", "triage"}

if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in DATABASE_FREE_COMMANDS:
        os.environ["DJANGO_SETTINGS_MODULE"] = "aiops.settings_cli"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiops.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
