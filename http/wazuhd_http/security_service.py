"""The bridge between JWTs and the host's RBAC: who may log in, which tokens still hold."""

from __future__ import annotations

from wazuhd import rbac
from wazuhd.errors import WazuhPermissionError
from wazuhd.rbac.admin import security_config
from wazuhd.routes import ApiRequest, ApiResponse
from wazuhd_http.app import Unauthorized, basic_credentials


class SecurityService:
    def __init__(self, ctx):
        self.db = ctx.store.db(rbac.DATABASE)

    async def authorize(self, claims: dict) -> rbac.RbacContext | None:
        """The caller's RbacContext, or None when the token was revoked or outdated."""
        return await rbac.authorize(self.db, claims["uid"], claims["rbac_roles"], claims["iat"],
                                    run_as=bool(claims.get("run_as")))

    async def login(self, request: ApiRequest, auth_context=None) -> ApiResponse | dict:
        """HTTP Basic credentials -> a token; failures count towards the IP's block."""
        api, ip = request.api, request.remote_addr
        credentials = basic_credentials(next(
            (v for k, v in request.headers.items() if k.lower() == "authorization"), None))
        if credentials is None:
            raise Unauthorized("No authorization credentials provided")
        try:
            user = await rbac.authenticate(self.db, *credentials)
            roles = await rbac.login_roles(self.db, user["id"], auth_context)
        except rbac.AuthenticationFailed:
            api.login_guard.failed(ip)
            raise Unauthorized("Invalid credentials") from None
        except WazuhPermissionError:
            api.login_guard.failed(ip)
            raise
        config = await security_config(self.db)
        token = api.keys.issue(username=user["username"], user_id=user["id"], roles=roles,
                               run_as=auth_context is not None, rbac_mode=config["rbac_mode"],
                               lifetime=config["auth_token_exp_timeout"])
        if request.params.get("raw"):
            return ApiResponse(token, content_type="text/plain")
        return {"data": {"token": token}, "error": 0}
