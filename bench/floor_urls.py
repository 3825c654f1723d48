"""The app's URLs plus the baselines of bench/api.py (served only under bench.settings_bench)."""

from django.urls import path

from netcare.urls import handler404, handler500  # noqa: F401  (the app's error views)
from netcare.urls import urlpatterns as app_urlpatterns

from . import floor_views

urlpatterns = [
    path("bench/static/", floor_views.static_json, name="bench-static"),
    path("bench/raw-course/<int:pk>/", floor_views.raw_course, name="bench-raw-course"),
    path("bench/raw-courses/", floor_views.raw_courses, name="bench-raw-courses"),
    *app_urlpatterns,
]
