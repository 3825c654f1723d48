"""Provider webhooks and the one-click unsubscribe link (no user authentication)."""

from django.urls import path

from . import views

app_name = "alerts"

urlpatterns = [
    path("sms/status/", views.sms_status, name="sms-status"),
    path("sms/inbound/", views.sms_inbound, name="sms-inbound"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
