"""Who may do what through the API: roles from treatments.roles, objects from one selector.

Object scoping lives in `treatments.selectors` (courses_visible_to, patients_visible_to);
views take their querysets from there, so another team's object is simply not found (404,
the same body as an id that does not exist). The classes below decide by role only.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from treatments.roles import STAFF_ROLES, Role, role_of


class RolePermission(BasePermission):
    """Allow the listed roles for reads and for writes (both tuples of Role)."""

    read_roles: frozenset[Role] = frozenset()
    write_roles: frozenset[Role] = frozenset()
    message = "Your role may not do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        if not hasattr(view, request.method.lower()):
            # A method the view does not have is 405 for everyone, not 403 for some roles.
            return True
        role = role_of(request.user)
        allowed = self.read_roles if request.method in SAFE_METHODS else self.write_roles
        return role in allowed


def roles(
    *, read: frozenset[Role] | set[Role], write: frozenset[Role] | set[Role] = frozenset()
) -> type[RolePermission]:
    """A permission class allowing `read` roles to read and `write` roles to write."""
    return type(
        "RolePermission",
        (RolePermission,),
        {"read_roles": frozenset(read), "write_roles": frozenset(write)},
    )


STAFF = frozenset(STAFF_ROLES)
STAFF_AND_PATIENT = STAFF | {Role.PATIENT}
STAFF_AND_INTEGRATION = STAFF | {Role.INTEGRATION}
EVERY_ROLE = STAFF | {Role.PATIENT, Role.INTEGRATION}
