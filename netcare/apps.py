from django.apps import AppConfig
from django.db.models.signals import post_migrate


class NetcareConfig(AppConfig):
    name = "netcare"
    verbose_name = "NetCare"

    def ready(self) -> None:
        from .roles_setup import on_post_migrate

        post_migrate.connect(on_post_migrate, dispatch_uid="netcare.roles_setup")
