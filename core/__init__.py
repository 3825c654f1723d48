"""The ground floor every app may import: domain error types, the event bus, the audit writer
and time helpers. It imports no app of the project."""
