from django.apps import AppConfig


class NetcareConfig(AppConfig):
    name = "netcare"
    verbose_name = "NetCare"
