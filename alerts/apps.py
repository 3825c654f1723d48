from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from treatments import domain_events

        from . import services

        # On commit: an alert is never raised for an event that rolled back, and a failing
        # alert cannot undo the event (domain_events isolates each subscriber).
        domain_events.subscribe(services.on_course_event)
        from anymail.signals import tracking

        tracking.connect(services.on_email_tracking, dispatch_uid="alerts.email_tracking")
        try:
            from surveillance import notifications
        except ImportError:  # surveillance without its publisher: nothing to listen to
            return
        notifications.subscribe(services.on_symptom_check_assessed)
