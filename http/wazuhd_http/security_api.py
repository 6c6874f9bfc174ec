"""``/security`` routes: thin calls into ``wazuhd.rbac`` (the logic lives there)."""

from __future__ import annotations

from wazuhd import rbac
from wazuhd.rbac import admin, links, roles, users
from wazuhd.routes import ApiRequest, Route

QUERY_PARAMS = ("offset", "limit", "sort", "search", "select", "q", "distinct")


def _db(request: ApiRequest):
    return request.ctx.store.db(rbac.DATABASE)


def _query(request: ApiRequest) -> dict:
    return {name: request.params[name] for name in QUERY_PARAMS if name in request.params}


def _body(request: ApiRequest, *names: str) -> dict:
    body = request.body or {}
    return {name: body[name] for name in names if name in body}


async def login(request: ApiRequest):
    return await request.api.security.login(request)


async def run_as_login(request: ApiRequest):
    return await request.api.security.login(request, auth_context=request.body or {})


async def logout(request: ApiRequest):
    return await admin.logout(request.user.rbac, db=_db(request))


async def get_user_me(request: ApiRequest):
    return await users.get_user_me(request.user.rbac, db=_db(request))


async def get_user_me_policies(request: ApiRequest):
    return await admin.get_user_me_policies(request.user.rbac)


async def revoke_all_tokens(request: ApiRequest):
    return await admin.revoke_tokens(request.user.rbac, db=_db(request))


async def edit_run_as(request: ApiRequest):
    return await users.edit_run_as(request.user.rbac, request.params["user_id"],
                                   request.params["allow_run_as"], db=_db(request))


async def get_rbac_actions(request: ApiRequest):
    return await admin.get_rbac_actions(endpoint=request.params.get("endpoint"))


async def get_rbac_resources(request: ApiRequest):
    return await admin.get_rbac_resources(resource=request.params.get("resource"))


async def get_users(request: ApiRequest):
    return await users.get_users(request.user.rbac, request.params.get("user_ids"),
                                 db=_db(request), **_query(request))


async def create_user(request: ApiRequest):
    return await users.create_user(request.user.rbac, db=_db(request),
                                   **_body(request, "username", "password"))


async def delete_users(request: ApiRequest):
    return await users.remove_users(request.user.rbac, request.params["user_ids"],
                                    db=_db(request))


async def update_user(request: ApiRequest):
    return await users.update_user(request.user.rbac, request.params["user_id"],
                                   db=_db(request), **_body(request, "password"))


def _crud(kind: str, get, add, update, remove, ids: str, single: str, fields: tuple[str, ...]):
    async def list_(request: ApiRequest):
        return await get(request.user.rbac, request.params.get(ids), db=_db(request),
                         **_query(request))

    async def create(request: ApiRequest):
        return await add(request.user.rbac, db=_db(request), **_body(request, *fields))

    async def delete(request: ApiRequest):
        return await remove(request.user.rbac, request.params[ids], db=_db(request))

    async def modify(request: ApiRequest):
        return await update(request.user.rbac, request.params[single], db=_db(request),
                            **_body(request, *fields))

    return [Route("GET", f"/security/{kind}", list_), Route("POST", f"/security/{kind}", create),
            Route("DELETE", f"/security/{kind}", delete),
            Route("PUT", f"/security/{kind}/{{{single}}}", modify)]


def _link(path: str, owner: str, ids: str, add, remove, with_position: bool):
    async def link(request: ApiRequest):
        extra = {"position": request.params.get("position")} if with_position else {}
        return await add(request.user.rbac, request.params[owner], request.params[ids],
                         db=_db(request), **extra)

    async def unlink(request: ApiRequest):
        return await remove(request.user.rbac, request.params[owner], request.params[ids],
                            db=_db(request))

    return [Route("POST", path, link), Route("DELETE", path, unlink)]


async def get_security_config(request: ApiRequest):
    return await admin.get_security_config(request.user.rbac, db=_db(request))


async def put_security_config(request: ApiRequest):
    return await admin.update_security_config(request.user.rbac, db=_db(request),
                                              config=request.body)


async def delete_security_config(request: ApiRequest):
    return await admin.restore_security_config(request.user.rbac, db=_db(request))


ROUTES = [
    Route("POST", "/security/user/authenticate", login, auth="basic"),
    Route("GET", "/security/user/authenticate", login, auth="basic"),
    Route("DELETE", "/security/user/authenticate", logout),
    Route("POST", "/security/user/authenticate/run_as", run_as_login, auth="basic"),
    Route("GET", "/security/users/me", get_user_me),
    Route("GET", "/security/users/me/policies", get_user_me_policies),
    Route("PUT", "/security/user/revoke", revoke_all_tokens),
    Route("PUT", "/security/users/{user_id}/run_as", edit_run_as),
    Route("GET", "/security/actions", get_rbac_actions),
    Route("GET", "/security/resources", get_rbac_resources),
    Route("GET", "/security/users", get_users),
    Route("POST", "/security/users", create_user),
    Route("DELETE", "/security/users", delete_users),
    Route("PUT", "/security/users/{user_id}", update_user),
    *_crud("roles", roles.get_roles, roles.add_role, roles.update_role, roles.remove_roles,
           "role_ids", "role_id", ("name",)),
    *_crud("policies", roles.get_policies, roles.add_policy, roles.update_policy,
           roles.remove_policies, "policy_ids", "policy_id", ("name", "policy")),
    *_crud("rules", roles.get_rules, roles.add_rule, roles.update_rule, roles.remove_rules,
           "rule_ids", "rule_id", ("name", "rule")),
    *_link("/security/users/{user_id}/roles", "user_id", "role_ids", users.set_user_role,
           users.remove_user_role, with_position=True),
    *_link("/security/roles/{role_id}/policies", "role_id", "policy_ids", links.set_role_policy,
           links.remove_role_policy, with_position=True),
    *_link("/security/roles/{role_id}/rules", "role_id", "rule_ids", links.set_role_rule,
           links.remove_role_rule, with_position=False),
    Route("GET", "/security/config", get_security_config),
    Route("PUT", "/security/config", put_security_config),
    Route("DELETE", "/security/config", delete_security_config),
]
