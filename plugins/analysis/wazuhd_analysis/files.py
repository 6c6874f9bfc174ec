"""Changing the ruleset through the API: upload and delete user files, hot reload.

API-agnostic operations (``api.py`` calls them). Writes go only to the user directories
(``analysis.ruleset.user_rule_dir`` / ``user_decoder_dir`` / ``user_list_dir``, by default
etc/rules, etc/decoders, etc/lists, as Wazuh keeps its user files); the configured and
starter rulesets are read-only here (error 1210/1506 as Wazuh's "default rules").

Before a rule or decoder file is written (or deleted), the whole ruleset is loaded with the
change applied to a temporary copy of the user directory: a file the engine refuses is
answered with error 1113 naming the file, the line and the rule or decoder, and nothing on
disk or in the running engine changes. After the write the running ruleset is reloaded
between two event batches (:meth:`AnalysisService.reload`: no event is lost); should that
reload fail anyway, the previous file is put back. One lock serialises every change and
reload. Results are Wazuh's: a refused file is a failed item, not an HTTP error.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from pathlib import Path

import trio

from wazuhd.errors import WazuhError, codes, register_codes
from wazuhd.home import write_atomic
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult
from wazuhd.routes import uploaded_text
from wazuhd_analysis.catalog import Catalog, check_cdb, find_list
from wazuhd_analysis.engine import Ruleset
from wazuhd_analysis.errors import RulesetError
from wazuhd_analysis.xmlparse import XMLSyntaxError, parse_xml

_USER_DIR_HINT = "Please, use the user directory (analysis.ruleset.user_{}_dir, by default etc/{}s)"
_CODES = {
    1209: {"message": "Invalid relative directory. It is not a rule directory of the configuration",
           "remediation": _USER_DIR_HINT.format("rule", "rule")},
    1210: {"message": "Uploading, updating or deleting default rules is not allowed",
           "remediation": _USER_DIR_HINT.format("rule", "rule")},
    1505: {"message": "Invalid relative directory. It is not a decoder directory of the configuration",
           "remediation": _USER_DIR_HINT.format("decoder", "decoder")},
    1506: {"message": "Uploading, updating or deleting default decoders is not allowed",
           "remediation": _USER_DIR_HINT.format("decoder", "decoder")},
    1914: {"message": "Error reloading the ruleset",
           "remediation": "Please, fix the ruleset files named in the message; the running ruleset "
                          "was kept"},
}
register_codes({code: spec for code, spec in _CODES.items() if code not in codes()})

_XML_NAME = re.compile(r"[\w\-.]+\.xml", re.ASCII)
_LIST_NAME = re.compile(r"[\w\-.]+", re.ASCII)
MAX_WARNINGS = 10

#: kind -> (noun, codes: wrong dir, default dir, read error)
_KIND = {"rules": ("rule", 1209, 1210), "decoders": ("decoder", 1505, 1506)}


def _name(filename: str, pattern: re.Pattern) -> str:
    if not pattern.fullmatch(filename or "") or filename.startswith("."):
        raise WazuhError(1801, f"{filename!r} is not a plain file name")
    return filename


def _check_dir(catalog: Catalog, kind: str, relative_dirname: str | None) -> None:
    """Only the user directory may change (Wazuh's ``validate_upload_delete_dir``)."""
    if not relative_dirname or relative_dirname.rstrip("/") == catalog.user_label(kind):
        return
    _, wrong, default = _KIND[kind]
    labels = {f.relative_dirname for f in catalog.xml_files(kind)}
    raise WazuhError(default if relative_dirname.rstrip("/") in labels else wrong)


def _swap(paths: list[str], old: str, new: str) -> list[str]:
    return [new if os.path.abspath(p) == old else p for p in paths]


def _load_with(service, kind: str, filename: str, text: str | None, label: str) -> Ruleset:
    """Worker thread: the full ruleset with the user directory's ``filename`` replaced by
    ``text`` (None: removed), from a temporary copy. RulesetError -> WazuhError 1113."""
    user = os.path.abspath(service.user_dirs[kind])
    with tempfile.TemporaryDirectory(prefix="wazuhd-ruleset-") as tmp:
        copy = os.path.join(tmp, kind)
        shutil.copytree(user, copy, ignore=shutil.ignore_patterns("*.backup", ".*"))
        target = os.path.join(copy, filename)
        if text is None:
            if os.path.exists(target):
                os.remove(target)
        else:
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(text)
        config = service.config
        config = dataclasses.replace(
            config, decoder_dirs=_swap(config.decoder_dirs, user, copy),
            rule_dirs=_swap(config.rule_dirs, user, copy), list_dirs=_swap(config.list_dirs, user, copy))
        try:
            ruleset = Ruleset.load(config)
        except RulesetError as exc:
            raise WazuhError(1113, str(exc).replace(copy, label)) from None
    _relocate(ruleset, copy, user)
    return ruleset


def _relocate(ruleset: Ruleset, copy: str, user: str) -> None:
    """Make a ruleset loaded from the temporary copy name the user directory's files (the
    loaded ruleset keeps no file open: it can then serve as the running one)."""
    def fix(path: str) -> str:
        return user + path[len(copy):] if path.startswith(copy) else path

    for key, paths in ruleset.sources.items():
        ruleset.sources[key] = [fix(p) for p in paths]
    for item in [*getattr(ruleset.rules, "order", ()), *getattr(ruleset.decoders, "decoders", ())]:
        if isinstance(getattr(item, "file", None), str):
            item.file = fix(item.file)
    for part in (ruleset.rules, ruleset.decoders):
        if isinstance(getattr(part, "warnings", None), list):
            part.warnings[:] = [w.replace(copy, user) for w in part.warnings]


def _warnings(ruleset: Ruleset) -> list[str]:
    found = []
    for part in (ruleset.decoders, ruleset.rules):
        found.extend(getattr(part, "warnings", None) or [])
    return found


async def _reload(service) -> Ruleset:
    try:
        return await service.reload()
    except WazuhError as exc:
        raise WazuhError(1914, exc.message) from None


async def _apply(service, path: Path, text: str | None, ruleset: Ruleset | None = None) -> None:
    """Write (or remove) ``path``, then swap in ``ruleset`` (already loaded with the change)
    or reload; on a failed reload put the old file back."""
    old = path.read_text(encoding="utf-8") if path.exists() else None
    try:
        if text is None:
            path.unlink()
        else:
            write_atomic(path, text)
    except OSError as exc:
        raise WazuhError(1907 if text is None else 1016, str(exc)) from None
    if ruleset is not None:
        service.swap(ruleset)
        return
    try:
        await _reload(service)
    except WazuhError:
        if old is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, old)
        raise


async def _upload_xml(rbac, catalog: Catalog, kind: str, filename: str, content, overwrite: bool,
                      relative_dirname: str | None) -> AffectedItemsResult:
    noun = _KIND[kind][0]
    result = AffectedItemsResult(all_msg=f"{noun.capitalize()} was successfully uploaded",
                                 none_msg=f"Could not upload {noun}")
    label = catalog.user_label(kind)
    shown = f"{label}/{filename}"
    service = catalog.service
    try:
        _name(filename, _XML_NAME)
        _check_dir(catalog, kind, relative_dirname)
        text = uploaded_text(content, empty_code=1112)
        try:
            parse_xml(text, shown)
        except XMLSyntaxError as exc:
            raise WazuhError(1113, str(exc)) from None
        path = catalog.user_dir(kind) / filename
        async with service.lock:
            if path.exists():
                if not overwrite:
                    raise WazuhError(1905)
                rbac.check([f"{kind}:delete"], f"{noun}:file:{filename}")
            ruleset = await trio.to_thread.run_sync(_load_with, service, kind, filename, text, label)
            await _apply(service, path, text, ruleset)
        result.affected_items.append(shown)
    except WazuhError as exc:
        result.add_failed_item(shown, exc)
    return result


async def _delete_xml(catalog: Catalog, kind: str, filename: str,
                      relative_dirname: str | None) -> AffectedItemsResult:
    noun = _KIND[kind][0]
    msg = "Rule was successfully deleted" if kind == "rules" else "Decoder file was successfully deleted"
    result = AffectedItemsResult(all_msg=msg, none_msg=f"Could not delete {noun}"
                                 + (" file" if kind == "decoders" else ""))
    label = catalog.user_label(kind)
    shown = f"{label}/{filename}"
    service = catalog.service
    try:
        _name(filename, _XML_NAME)
        _check_dir(catalog, kind, relative_dirname)
        path = catalog.user_dir(kind) / filename
        async with service.lock:
            if not path.is_file():
                raise WazuhError(1906)
            ruleset = await trio.to_thread.run_sync(_load_with, service, kind, filename, None, label)
            await _apply(service, path, None, ruleset)
        result.affected_items.append(shown)
    except WazuhError as exc:
        result.add_failed_item(shown, exc)
    return result


@expose_resources(actions=["rules:update"], resources=["*:*:*"])
async def upload_rule_file(rbac, *, catalog: Catalog, filename: str, content, overwrite: bool = False,
                           relative_dirname: str | None = None) -> AffectedItemsResult:
    """``PUT /rules/files/{filename}``: validate with the whole ruleset, write, reload."""
    return await _upload_xml(rbac, catalog, "rules", filename, content, overwrite, relative_dirname)


@expose_resources(actions=["rules:delete"], resources=["rule:file:{filename}"])
async def delete_rule_file(rbac, filename: str, *, catalog: Catalog,
                           relative_dirname: str | None = None) -> AffectedItemsResult:
    return await _delete_xml(catalog, "rules", filename, relative_dirname)


@expose_resources(actions=["decoders:update"], resources=["*:*:*"])
async def upload_decoder_file(rbac, *, catalog: Catalog, filename: str, content, overwrite: bool = False,
                              relative_dirname: str | None = None) -> AffectedItemsResult:
    return await _upload_xml(rbac, catalog, "decoders", filename, content, overwrite, relative_dirname)


@expose_resources(actions=["decoders:delete"], resources=["decoder:file:{filename}"])
async def delete_decoder_file(rbac, filename: str, *, catalog: Catalog,
                              relative_dirname: str | None = None) -> AffectedItemsResult:
    return await _delete_xml(catalog, "decoders", filename, relative_dirname)


@expose_resources(actions=["lists:update"], resources=["*:*:*"])
async def upload_list_file(rbac, *, catalog: Catalog, filename: str, content,
                           overwrite: bool = False) -> AffectedItemsResult:
    """``PUT /lists/files/{filename}``: a CDB list in the user list directory."""
    result = AffectedItemsResult(all_msg="CDB list file uploaded successfully",
                                 none_msg="Could not upload CDB list file")
    label = catalog.user_label("lists")
    shown = f"{label}/{filename}"
    service = catalog.service
    try:
        _name(filename, _LIST_NAME)
        text = uploaded_text(content, empty_code=1112)
        check_cdb(text, shown)
        path = catalog.user_dir("lists") / filename
        async with service.lock:
            existing = find_list(catalog, filename)
            if path.exists():
                if not overwrite:
                    raise WazuhError(1905)
                rbac.check(["lists:delete"], f"list:file:{filename}")
            elif existing is not None:
                raise WazuhError(1805)
            await _apply(service, path, text)
        result.affected_items.append(shown)
    except WazuhError as exc:
        result.add_failed_item(shown, exc)
    return result


@expose_resources(actions=["lists:delete"], resources=["list:file:{filename}"])
async def delete_list_file(rbac, filename: str, *, catalog: Catalog) -> AffectedItemsResult:
    result = AffectedItemsResult(all_msg="CDB list file was successfully deleted",
                                 none_msg="Could not delete CDB list file")
    label = catalog.user_label("lists")
    shown = f"{label}/{filename}"
    service = catalog.service
    try:
        _name(filename, _LIST_NAME)
        path = catalog.user_dir("lists") / filename
        async with service.lock:
            if not path.is_file():
                found = find_list(catalog, filename)
                raise WazuhError(1906) if found is None else WazuhError(
                    1907, f"only files of {label} can be deleted, not {found.relative_dirname}/{filename}")
            await _apply(service, path, None)
        result.affected_items.append(shown)
    except WazuhError as exc:
        result.add_failed_item(shown, exc)
    return result


@expose_resources(actions=["manager:read", "manager:restart"], resources=["*:*:*"])
async def reload_analysisd(rbac, *, catalog: Catalog, node: str = "manager") -> AffectedItemsResult:
    """``PUT /manager/analysisd/reload``: a hot reload; a failing ruleset keeps the running one."""
    result = AffectedItemsResult(all_msg="Reload request sent to all specified nodes",
                                 some_msg="Could not send reload request to some specified nodes",
                                 none_msg="Could not send reload request to any node")
    service = catalog.service
    try:
        async with service.lock:
            ruleset = await _reload(service)
    except WazuhError as exc:
        result.add_failed_item(node, exc)
        return result
    home = f"{catalog.home_root}/"
    warnings = [w.replace(home, "") for w in _warnings(ruleset)]
    if warnings:
        more = len(warnings) - MAX_WARNINGS
        msg = ", ".join(warnings[:MAX_WARNINGS]) + (f" (and {more} more warnings)" if more > 0 else "")
    else:
        msg = "Ruleset reload request sent successfully."
    result.affected_items.append({"name": node, "msg": msg})
    return result
