from django.apps import AppConfig


class SurveillanceConfig(AppConfig):
    name = "surveillance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from treatments import domain_events

        from . import subscribers

        # In-transaction: the denormalised due dates commit with the event that moved them.
        domain_events.subscribe(subscribers.on_domain_event, in_transaction=True)
