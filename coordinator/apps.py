from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


class CoordinatorConfig(AppConfig):
    """The admin door: worklist, course page, event forms, user admin, roles, demo data."""

    default = True
    name = "coordinator"
    verbose_name = "Coordinator"

    def ready(self) -> None:
        from .roles_setup import on_post_migrate

        post_migrate.connect(on_post_migrate, dispatch_uid="coordinator.roles_setup")


class CoordinatorAdminConfig(AdminConfig):
    """django.contrib.admin with coordinator's site as ``admin.site`` (worklist, two factors)."""

    default = False  # listed by its full path in INSTALLED_APPS, in place of the admin's own
    default_site = "coordinator.sites.CoordinatorAdminSite"
