"""Provider webhooks and the one-click unsubscribe link (no user authentication)."""

from django.urls import include, path

from . import views

app_name = "alerts"

urlpatterns = [
    path("sms/status/", views.sms_status, name="sms-status"),
    path("sms/inbound/", views.sms_inbound, name="sms-inbound"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    # /webhooks/email/<esp>/tracking/: delivery, bounce and complaint reports (anymail).
    path("email/", include((views.email_tracking_webhooks(), "anymail"), namespace="anymail")),
]
