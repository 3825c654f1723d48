from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import events
        from surveillance.notifications import ResultOutOfOrder, SymptomCheckAssessed
        from treatments.domain_events import DOMAIN_EVENTS

        from . import services

        # On commit: an alert is never raised for an event that rolled back, and a failing
        # alert cannot undo the event (the bus isolates each on-commit subscriber).
        events.subscribe(DOMAIN_EVENTS, services.on_course_event)
        events.subscribe(SymptomCheckAssessed, services.on_symptom_check_assessed)
        events.subscribe(ResultOutOfOrder, services.on_result_out_of_order)
        from anymail.signals import tracking
        from celery.signals import beat_init

        from . import beat

        # At beat start: repair schedule rows a past wrong clock left in the future, record
        # the start (for /healthz) and run the sweep, dispatch and escalation once.
        beat_init.connect(beat.on_beat_init, dispatch_uid="alerts.beat")

        tracking.connect(services.on_email_tracking, dispatch_uid="alerts.email_tracking")
