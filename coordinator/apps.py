from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoordinatorConfig(AppConfig):
    """The admin door: worklist, course page, event forms, user admin, roles, demo data."""

    name = "coordinator"
    verbose_name = "Coordinator"

    def ready(self) -> None:
        from .roles_setup import on_post_migrate

        post_migrate.connect(on_post_migrate, dispatch_uid="coordinator.roles_setup")
