"""URLs of the REST API, version 1."""

from django.urls import path

from . import alerts_api, fhir_views, results, views
from .auth import RefreshView, TokenView
from .calendar import views as calendar

app_name = "api"

urlpatterns = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("auth/token/refresh/", RefreshView.as_view(), name="token-refresh"),
    path("courses/", views.CourseListView.as_view(), name="courses"),
    path("courses/<int:pk>/", views.CourseDetailView.as_view(), name="course"),
    path("courses/<int:pk>/events/", views.CourseEventsView.as_view(), name="course-events"),
    path("courses/<int:pk>/history/", views.CourseHistoryView.as_view(), name="course-history"),
    path("courses/<int:pk>/fhir/", fhir_views.CourseFhirView.as_view(), name="course-fhir"),
    path("patients/", views.PatientListView.as_view(), name="patients"),
    path("patients/me/", views.PatientMeView.as_view(), name="patient-me"),
    path("patients/me/schedule/", views.PatientScheduleView.as_view(), name="patient-schedule"),
    path("patients/<int:pk>/", views.PatientDetailView.as_view(), name="patient"),
    path(
        "patients/me/calendar/",
        calendar.PatientMeCalendarView.as_view(),
        name="patient-me-calendar",
    ),
    path(
        "patients/<int:pk>/calendar/",
        calendar.PatientCalendarView.as_view(),
        name="patient-calendar",
    ),
    path("calendar/<str:token>.ics", calendar.CalendarFeedView.as_view(), name="calendar-feed"),
    path("imaging-studies/", results.ImagingView.as_view(), name="imaging-studies"),
    path("lab-results/", results.LabView.as_view(), name="lab-results"),
    path("symptom-checks/", results.SymptomView.as_view(), name="symptom-checks"),
    path("reminders/", alerts_api.ReminderListView.as_view(), name="reminders"),
    path("alerts/", alerts_api.AlertListView.as_view(), name="alerts"),
    path(
        "alerts/<int:pk>/acknowledge/", alerts_api.AlertAcknowledgeView.as_view(), name="alert-ack"
    ),
    path("alerts/<int:pk>/resolve/", alerts_api.AlertResolveView.as_view(), name="alert-resolve"),
]
