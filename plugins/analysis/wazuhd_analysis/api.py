"""HTTP routes of the analysis plugin: thin calls into ``catalog``, ``files`` and ``ingest``."""

from __future__ import annotations

from wazuhd.routes import ApiRequest, ApiResponse, Route
from wazuhd_analysis import catalog, files, ingest

QUERY = catalog.QUERY_KEYS


def _catalog(request: ApiRequest) -> catalog.Catalog:
    return request.ctx.runtime["analysis_catalog"]


def _pick(request: ApiRequest, *names: str, **renamed: str) -> dict:
    """Parameters present in the request; ``renamed``: python name -> API name."""
    params = request.params
    out = {name: params[name] for name in (*names, *QUERY) if params.get(name) is not None}
    out.update({py: params[api] for py, api in renamed.items() if params.get(api) is not None})
    return out


def _text(body: str, content_type: str) -> ApiResponse:
    return ApiResponse(body, content_type=content_type)


async def get_rules(request: ApiRequest):
    return await catalog.get_rules(
        request.user.rbac, catalog=_catalog(request),
        **_pick(request, "rule_ids", "status", "group", "level", "filename", "relative_dirname",
                "pci_dss", "gdpr", "gpg13", "hipaa", "tsc", "mitre", nist_800_53="nist-800-53"))


async def get_rule_groups(request: ApiRequest):
    return await catalog.get_rule_groups(request.user.rbac, catalog=_catalog(request), **_pick(request))


async def get_rule_requirement(request: ApiRequest):
    return await catalog.get_rule_requirement(request.user.rbac, catalog=_catalog(request),
                                              requirement=request.params["requirement"],
                                              **_pick(request))


async def get_rules_files(request: ApiRequest):
    params = _pick(request, "status", "relative_dirname")
    return await catalog.get_rules_files(request.user.rbac, request.params.get("filename"),
                                         catalog=_catalog(request), **params)


def _file_getter(get):
    async def handler(request: ApiRequest):
        result = await get(request.user.rbac, request.params["filename"], catalog=_catalog(request),
                           raw=bool(request.params.get("raw")),
                           **_pick(request, "relative_dirname"))
        return _text(result, "application/xml") if isinstance(result, str) else result
    return handler


def _uploader(upload):
    async def handler(request: ApiRequest):
        return await upload(request.user.rbac, catalog=_catalog(request),
                            filename=request.params["filename"], content=request.raw_body,
                            overwrite=bool(request.params.get("overwrite")),
                            **_pick(request, "relative_dirname"))
    return handler


def _deleter(delete):
    async def handler(request: ApiRequest):
        return await delete(request.user.rbac, request.params["filename"], catalog=_catalog(request),
                            **_pick(request, "relative_dirname"))
    return handler


async def get_decoders(request: ApiRequest):
    return await catalog.get_decoders(request.user.rbac, catalog=_catalog(request),
                                      **_pick(request, "decoder_names", "status", "filename",
                                              "relative_dirname"))


async def get_decoders_files(request: ApiRequest):
    params = _pick(request, "status", "relative_dirname")
    return await catalog.get_decoders_files(request.user.rbac, request.params.get("filename"),
                                            catalog=_catalog(request), **params)


async def get_decoders_parents(request: ApiRequest):
    return await catalog.get_decoders(request.user.rbac, catalog=_catalog(request), parents=True,
                                      **_pick(request))


async def get_lists(request: ApiRequest):
    return await catalog.get_lists(request.user.rbac, catalog=_catalog(request),
                                   **_pick(request, "filename", "relative_dirname"))


async def get_lists_files(request: ApiRequest):
    return await catalog.get_lists_files(request.user.rbac, catalog=_catalog(request),
                                         **_pick(request, "filename", "relative_dirname"))


async def get_list_file(request: ApiRequest):
    result = await catalog.get_list_file(request.user.rbac, request.params["filename"],
                                         catalog=_catalog(request), raw=bool(request.params.get("raw")))
    return _text(result, "text/plain") if isinstance(result, str) else result


async def put_list_file(request: ApiRequest):
    return await files.upload_list_file(request.user.rbac, catalog=_catalog(request),
                                        filename=request.params["filename"], content=request.raw_body,
                                        overwrite=bool(request.params.get("overwrite")))


async def delete_list_file(request: ApiRequest):
    return await files.delete_list_file(request.user.rbac, request.params["filename"],
                                        catalog=_catalog(request))


async def put_reload_analysisd(request: ApiRequest):
    # Wazuh names the node "manager" when there is no cluster
    return await files.reload_analysisd(request.user.rbac, catalog=_catalog(request), node="manager")


async def put_logtest(request: ApiRequest):
    body = request.body or {}
    return await ingest.run_logtest(request.user.rbac, sessions=request.ctx.runtime["logtest"],
                                    event=body.get("event"), log_format=body.get("log_format"),
                                    location=body.get("location"), token=body.get("token"))


async def delete_logtest_session(request: ApiRequest):
    return await ingest.end_logtest_session(request.user.rbac, sessions=request.ctx.runtime["logtest"],
                                            token=request.params["token"])


async def post_events(request: ApiRequest):
    runtime = request.ctx.runtime
    return await ingest.ingest_events(request.user.rbac, ctx=request.ctx,
                                      events=(request.body or {}).get("events") or [],
                                      limit=runtime["analysis_events_limit"],
                                      counters=runtime["analysis_events_counters"])


ROUTES = [
    Route("GET", "/rules", get_rules),
    Route("GET", "/rules/groups", get_rule_groups),
    Route("GET", "/rules/requirement/{requirement}", get_rule_requirement),
    Route("GET", "/rules/files", get_rules_files),
    Route("GET", "/rules/files/{filename}", _file_getter(catalog.get_rule_file)),
    Route("PUT", "/rules/files/{filename}", _uploader(files.upload_rule_file)),
    Route("DELETE", "/rules/files/{filename}", _deleter(files.delete_rule_file)),
    Route("GET", "/decoders", get_decoders),
    Route("GET", "/decoders/files", get_decoders_files),
    Route("GET", "/decoders/parents", get_decoders_parents),
    Route("GET", "/decoders/files/{filename}", _file_getter(catalog.get_decoder_file)),
    Route("PUT", "/decoders/files/{filename}", _uploader(files.upload_decoder_file)),
    Route("DELETE", "/decoders/files/{filename}", _deleter(files.delete_decoder_file)),
    Route("GET", "/lists", get_lists),
    Route("GET", "/lists/files", get_lists_files),
    Route("GET", "/lists/files/{filename}", get_list_file),
    Route("PUT", "/lists/files/{filename}", put_list_file),
    Route("DELETE", "/lists/files/{filename}", delete_list_file),
    Route("PUT", "/manager/analysisd/reload", put_reload_analysisd),
    Route("PUT", "/logtest", put_logtest),
    Route("DELETE", "/logtest/sessions/{token}", delete_logtest_session),
    Route("POST", "/events", post_events),
]
