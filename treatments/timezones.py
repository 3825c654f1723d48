"""Which time zone names a patient record may hold: canonical IANA names only.

`zoneinfo.available_timezones()` lists whatever the host offers, including names that mean
nothing portable: `localtime` and `posixrules` (copies of the host's own setting) and
`Factory` (a placeholder meaning "zone not set"). A worker with only the `tzdata` package
cannot load the first two, and every reminder of such a patient fails. Backward-compatible
links (`US/Eastern`, `Asia/Calcutta`) load everywhere but name the same rules as their
target; accepting them would let one zone be stored under many names.

The list comes from the tz database itself as the `tzdata` package ships it
(`tzdata.zi`): a name is canonical when it has its own Zone entry, or is listed in
`zone.tab` (the per-country names the tz project keeps for compatibility, such as
`Europe/Amsterdam`), or is `UTC`. A link is refused with its target named, so the caller
can send the canonical name.
"""

from __future__ import annotations

import functools
from importlib import resources

from django.core.exceptions import ValidationError

# Conventional, universally understood, and the model's default.
ALWAYS_ACCEPTED = frozenset({"UTC"})
# A Zone entry that means "unknown", not a place.
NEVER_ACCEPTED = frozenset({"Factory"})


@functools.cache
def _tz_database() -> tuple[frozenset[str], dict[str, str]]:
    """(canonical names, link -> target) read from the tzdata package's tzdata.zi and
    zone.tab."""
    data = resources.files("tzdata.zoneinfo")
    zones: set[str] = set()
    links: dict[str, str] = {}
    for line in data.joinpath("tzdata.zi").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "Z":
            zones.add(parts[1])
        elif len(parts) >= 3 and parts[0] == "L":
            links[parts[2]] = parts[1]
    for line in data.joinpath("zone.tab").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            zones.add(line.split("\t")[2])
    canonical = frozenset((zones | ALWAYS_ACCEPTED) - NEVER_ACCEPTED)
    return canonical, {name: target for name, target in links.items() if name not in canonical}


def canonical_timezones() -> frozenset[str]:
    """Every name a patient's `timezone` may hold."""
    return _tz_database()[0]


def canonical_target(name: str) -> str | None:
    """The canonical zone a link names (`US/Eastern` -> `America/New_York`), else None."""
    _, links = _tz_database()
    target = links.get(name)
    seen = set()
    while target is not None and target not in canonical_timezones() and target not in seen:
        seen.add(target)
        target = links.get(target)
    return target if target in canonical_timezones() else None


def validate_canonical_timezone(value: str) -> None:
    """Refuse anything but a canonical IANA zone name.

    Raises ValidationError with code `timezone_not_canonical` for a link (its message names
    the canonical target) and `invalid_timezone` for anything else.
    """
    if isinstance(value, str) and value in canonical_timezones():
        return
    target = canonical_target(value) if isinstance(value, str) else None
    if target is not None:
        raise ValidationError(
            "%(value)s is an alias: use the canonical IANA name %(target)s.",
            code="timezone_not_canonical",
            params={"value": value, "target": target},
        )
    raise ValidationError(
        "Not a canonical time zone name of the IANA database (e.g. Europe/London).",
        code="invalid_timezone",
    )
