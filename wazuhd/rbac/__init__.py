"""RBAC and the ``/security`` framework layer, independent of any API.

Storage: :data:`MIGRATIONS` (database ``security``) and :func:`ensure_defaults`. Evaluation:
:class:`RbacContext`, :class:`ResourceFilter`, :func:`expose_resources`. Login and tokens:
:func:`authenticate`, :func:`login_roles`, :func:`token_valid`, :func:`load_context`,
:func:`authorize` (both at once).
Operations: ``wazuhd.rbac.users``, ``.roles``, ``.links``, ``.admin``.
"""

from wazuhd.rbac.catalog import RbacAction, RbacResource, register, register_actions, register_resources
from wazuhd.rbac.context import RbacContext, ResourceFilter, process_policies
from wazuhd.rbac.decorators import expose_resources
from wazuhd.rbac.defaults import ensure_defaults
from wazuhd.rbac.schema import DATABASE, MIGRATIONS
from wazuhd.rbac.tokens import (AuthenticationFailed, authenticate, authorize, load_context, login_roles,
                                token_valid)

__all__ = [
    "DATABASE", "MIGRATIONS", "AuthenticationFailed", "authorize", "RbacAction", "RbacContext", "RbacResource",
    "ResourceFilter", "authenticate", "ensure_defaults", "expose_resources", "load_context", "login_roles",
    "process_policies", "register", "register_actions", "register_resources", "token_valid",
]
