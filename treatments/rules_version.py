"""The version of the clinical rule set, carried by everything the rules produce.

Pure constants: no ORM, no clock, no I/O. Every due item, every guard result (a 422 body, an
event's ``warnings`` and ``overridden_guards``), the plan's risk group and every symptom-check
assessment store the version that produced them, at the moment they are produced
(docs/api.md#rule-versions). A reader can then tell an answer of today's rules from one given
under earlier rules.

When it must change: any change to a clinical rule in ``treatments/machine/``,
``treatments/staging/`` or ``surveillance/schedule/`` (a threshold, an interval, a guard, a
table row, a source cited) gets a new ``RULE_VERSION``, as ``YEAR.N`` (the N-th rule set of
that year), in the same commit as the rule. ``RULE_BOOK_FINGERPRINT`` is the fingerprint of
those modules' code for this version (comments, docstrings and layout left out; see
``treatments/management/commands/rule_book.py``). A test fails when the code's fingerprint is
no longer the one recorded here, so a rule cannot change without someone deciding on the
version: bump ``RULE_VERSION`` and record the new fingerprint that
``python manage.py rule_book --fingerprint`` prints, then run
``python manage.py rule_book --write`` so the rule book shows the version. A change that
leaves every answer the same (a rename, a refactor) records the new fingerprint alone.
"""

from typing import Final

RULE_VERSION: Final = "2026.2"
"""The clinical rule set in force: version 2 of docs/clinical-rules.md, the first recorded."""

RULE_BOOK_FINGERPRINT: Final = "47943fcd3f22de9dc2ebc5e98cbaafe6f93dc07a475d1a4fdea5a451b499ef01"
"""SHA-256 of the rule modules' code for ``RULE_VERSION`` (``manage.py rule_book --fingerprint``)."""
