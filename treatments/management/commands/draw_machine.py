"""Print the course state machine as a Mermaid or Graphviz diagram, from the table itself."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from treatments import diagram, machine


class Command(BaseCommand):
    help = "Print the course state machine (Mermaid by default, or Graphviz dot)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
        parser.add_argument("--highlight", help="a state to highlight", default=None)

    def handle(self, *args, format: str, highlight: str | None, **options) -> None:
        if highlight is not None and highlight not in machine.State.__members__.values():
            raise CommandError(f"Unknown state {highlight!r}; states: {', '.join(machine.State)}")
        draw = diagram.to_mermaid if format == "mermaid" else diagram.to_dot
        self.stdout.write(draw(highlight=highlight))
