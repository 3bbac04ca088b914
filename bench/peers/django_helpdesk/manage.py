#!/usr/bin/env python
"""Django's manage.py for the peer project (run it with the peer's virtualenv)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerdesk.settings")
    from django.core.management import execute_from_command_line  # type: ignore[import-not-found]  # the peer's own virtualenv

    execute_from_command_line(sys.argv)
