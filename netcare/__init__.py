"""NetCare: follow-up of patients after surgery for a small-intestine neuroendocrine tumour."""

from .celery import app as celery_app

__all__ = ("celery_app",)
