import os

from django.core.wsgi import get_wsgi_application  # type: ignore[import-not-found]  # the peer's own virtualenv

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerdesk.settings")
application = get_wsgi_application()
