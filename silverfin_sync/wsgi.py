import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "silverfin_sync.settings")

application = get_wsgi_application()

from silverfin_sync.checks import encryption_keys_validate  # noqa: E402  (needs the settings above)

encryption_keys_validate()
