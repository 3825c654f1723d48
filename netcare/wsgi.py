"""WSGI entry point (gunicorn netcare.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netcare.settings")
application = get_wsgi_application()
