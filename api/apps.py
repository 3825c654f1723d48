from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save, pre_save


class ApiConfig(AppConfig):
    """The REST door: views, authentication, tokens, idempotency and the read log."""

    name = "api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from . import event_schema  # noqa: F401  (publishes each event type's payload)
        from .credentials import after_user_saved, before_user_saved

        # Any save that changes a password or deactivates a user revokes their API tokens.
        user = settings.AUTH_USER_MODEL
        pre_save.connect(before_user_saved, sender=user, dispatch_uid="api.credentials.pre")
        post_save.connect(after_user_saved, sender=user, dispatch_uid="api.credentials.post")
