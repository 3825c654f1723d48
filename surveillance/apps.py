from django.apps import AppConfig


class SurveillanceConfig(AppConfig):
    name = "surveillance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import events
        from treatments.domain_events import DOMAIN_EVENTS
        from treatments.services import facts

        from . import selectors, subscribers

        # Treatments' guards read the injections through this, not by importing surveillance.
        facts.register_fact_source(
            facts.LAST_LONG_ACTING_INJECTION, selectors.last_long_acting_injection_on
        )
        facts.register_fact_source(facts.LATEST_PRRT_LABS, selectors.latest_prrt_labs)

        # In-transaction: the denormalised due dates commit with the event that moved them.
        events.subscribe(DOMAIN_EVENTS, subscribers.on_domain_event, in_transaction=True)
