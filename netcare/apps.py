from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, post_save, pre_save


class NetcareConfig(AppConfig):
    name = "netcare"
    verbose_name = "NetCare"

    def ready(self) -> None:
        from .roles_setup import on_post_migrate

        post_migrate.connect(on_post_migrate, dispatch_uid="netcare.roles_setup")

        from .credentials import after_user_saved, before_user_saved

        # Any save that changes a password or deactivates a user revokes their API tokens.
        user = settings.AUTH_USER_MODEL
        pre_save.connect(before_user_saved, sender=user, dispatch_uid="netcare.credentials.pre")
        post_save.connect(after_user_saved, sender=user, dispatch_uid="netcare.credentials.post")
