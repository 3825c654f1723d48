from django.apps import AppConfig


class NetcareConfig(AppConfig):
    """Configuration only; its migrations stay as the history of the models that moved to api."""

    name = "netcare"
    verbose_name = "NetCare"
