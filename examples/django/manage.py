#!/usr/bin/env python3
"""Django's command-line utility for the vidproc example site."""
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django: on Debian 12, apt-get install python3-django "
            "(and run this with the system's python3)."
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
