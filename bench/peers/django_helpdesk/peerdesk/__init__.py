"""A minimal Django project around django-helpdesk: the peer of `bench/load.py --peer django-helpdesk`.

Runs in the peer's own virtualenv (install.sh), never in the project's.
"""
