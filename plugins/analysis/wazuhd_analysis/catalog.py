"""The ruleset as Wazuh's API shows it: rules, decoders, CDB lists and their files.

API-agnostic (the HTTP routes in ``api.py`` are thin calls into these operations). Like
Wazuh's framework (``core/rule.py``, ``core/decoder.py``, ``core/cdb_list.py``), the items
are read from the ruleset's files on disk, not from the compiled engine: a rule's
``details`` are its XML options as written, which the compiled :class:`Rule` no longer
carries. Files are parsed with the engine's own lenient reader (``xmlparse``, used
read-only) and cached by modification time.

Which files: the configured directories of ``analysis.ruleset`` (plus the user
directories etc/decoders, etc/rules, etc/lists and the starter ruleset), scanned at request
time as Wazuh scans its ``<ruleset>`` block; a file named in ``rule_exclude`` /
``decoder_exclude`` is listed with status ``disabled``. ``relative_dirname`` is the
directory relative to the wazuhd home (``etc/rules``), ``wazuhd/ruleset/<kind>`` for the
starter ruleset, or the absolute directory for one outside the home.

RBAC as Wazuh: ``rules:read`` on ``rule:file:<filename>`` (``decoders:read`` on
``decoder:file:``, ``lists:read`` on ``list:file:``); list operations show only what the
caller may read.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path

import trio

from wazuhd.errors import WazuhError
from wazuhd.query import Schema
from wazuhd.rbac import expose_resources
from wazuhd.results import AffectedItemsResult, paginate
from wazuhd_analysis.service import STARTER_RULESET
from wazuhd_analysis.xmlparse import Node, XMLSyntaxError, parse_xml

RULE_REQUIREMENTS = ("pci_dss", "gdpr", "hipaa", "nist_800_53", "gpg13", "tsc", "mitre")
#: Wazuh's ``DYNAMIC_OPTIONS``: rule options shown as ``{"pattern": ..., <attributes>}``.
RULE_DYNAMIC = {"regex", "field", "match", "action", "extra_data", "hostname", "id", "location",
                "program_name", "protocol", "user", "url", "srcport", "dstport", "status",
                "system_name", "srcgeoip", "dstgeoip"}
DECODER_DYNAMIC = {"program_name", "prematch", "regex"}
QUERY_KEYS = ("offset", "limit", "sort", "search", "select", "q", "distinct")

RULES_SCHEMA = Schema(None, id_field="id")
FILES_SCHEMA = Schema(None, id_field="filename")
DECODERS_SCHEMA = Schema(None, id_field="filename")
LISTS_SCHEMA = Schema(None, id_field="filename")
VALUES_SCHEMA = Schema(None, id_field="value")


@dataclass(frozen=True)
class RulesetFile:
    """One file of the ruleset: what Wazuh lists, plus where it is."""

    filename: str
    relative_dirname: str
    status: str
    path: str
    user: bool = False

    def item(self) -> dict:
        return {"filename": self.filename, "relative_dirname": self.relative_dirname,
                "status": self.status}


def query_params(params: dict) -> dict:
    """The shared query-language parameters among ``params`` (None values dropped)."""
    return {key: params[key] for key in QUERY_KEYS if params.get(key) is not None}


class Catalog:
    """The running configuration's ruleset files and a parse cache (one per daemon)."""

    def __init__(self, service, home_root: Path):
        self.service = service
        self.home_root = Path(home_root).absolute()
        self._xml: dict[str, tuple[int, int, list[Node]]] = {}
        self._rows: dict[tuple, tuple[list[Node], list[dict]]] = {}

    # -- where files are ----------------------------------------------------------------
    def label(self, directory: str | Path) -> str:
        """Wazuh's ``relative_dirname`` of a directory."""
        directory = Path(os.path.abspath(directory))
        starter = Path(os.path.abspath(STARTER_RULESET))
        if directory == starter or starter in directory.parents:
            return "wazuhd/ruleset/" + directory.relative_to(starter).as_posix()
        for plugin, root in self.service.plugin_rulesets.items():
            if root in directory.parents:
                return f"wazuhd/{plugin}/ruleset/" + directory.relative_to(root).as_posix()
        if self.home_root in directory.parents or directory == self.home_root:
            return directory.relative_to(self.home_root).as_posix()
        return directory.as_posix()

    def user_dir(self, kind: str) -> Path:
        return Path(os.path.abspath(self.service.user_dirs[kind]))

    def user_label(self, kind: str) -> str:
        return self.label(self.user_dir(kind))

    def xml_files(self, kind: str) -> list[RulesetFile]:
        """Rule or decoder files (``kind`` "rules" / "decoders"), in load order."""
        config = self.service.config
        dirs = config.rule_dirs if kind == "rules" else config.decoder_dirs
        singles = config.rule_files if kind == "rules" else config.decoder_files
        exclude = set(config.rule_exclude if kind == "rules" else config.decoder_exclude)
        user = self.user_dir(kind)
        out: list[RulesetFile] = []
        for directory in dirs:
            if not os.path.isdir(directory):
                continue
            label = self.label(directory)
            is_user = Path(os.path.abspath(directory)) == user
            for name in sorted(os.listdir(directory)):
                path = os.path.join(directory, name)
                if not name.endswith(".xml") or not os.path.isfile(path):
                    continue
                status = "disabled" if name in exclude or path in exclude else "enabled"
                out.append(RulesetFile(name, label, status, path, is_user))
        for path in singles:
            name = os.path.basename(path)
            status = "disabled" if name in exclude or path in exclude else "enabled"
            out.append(RulesetFile(name, self.label(os.path.dirname(path)), status, path))
        return out

    def list_files(self) -> list[RulesetFile]:
        """CDB list files (text form), as the engine finds them (``.cdb``/``.md`` skipped)."""
        config = self.service.config
        paths = [p for p in config.list_files if os.path.isfile(p)]
        for directory in config.list_dirs:
            for path in sorted(glob.glob(os.path.join(directory, "**", "*"), recursive=True)):
                if os.path.isfile(path) and not path.endswith((".cdb", ".md")):
                    paths.append(path)
        user = self.user_dir("lists")
        return [RulesetFile(os.path.basename(p), self.label(os.path.dirname(p)), "enabled", p,
                            Path(os.path.abspath(p)).parent == user)
                for p in dict.fromkeys(paths)]

    # -- parsing ------------------------------------------------------------------------
    def parse(self, path: str, code: int) -> list[Node]:
        """The root elements of a ruleset file (cached by mtime and size)."""
        try:
            stat = os.stat(path)
            cached = self._xml.get(path)
            if cached and cached[0] == stat.st_mtime_ns and cached[1] == stat.st_size:
                return cached[2]
            with open(path, encoding="utf-8", errors="replace") as fh:
                roots = parse_xml(fh.read(), path)
        except OSError as exc:
            raise WazuhError(code, f"{path}: {exc.strerror}") from None
        except XMLSyntaxError as exc:
            raise WazuhError(code, str(exc)) from None
        self._xml[path] = (stat.st_mtime_ns, stat.st_size, roots)
        return roots

    def _items(self, kind: str) -> list[dict]:
        """Every item of every file of ``kind``; a file's items are cached with its parse."""
        build, code = (rules_of, 1201) if kind == "rules" else (decoders_of, 1501)
        rows = []
        for file in self.xml_files(kind):
            roots = self.parse(file.path, code)
            key = (kind, file.path, file.relative_dirname, file.status)
            cached = self._rows.get(key)
            if cached is None or cached[0] is not roots:
                cached = self._rows[key] = (roots, build(roots, file))
            rows.extend(cached[1])
        return rows

    def rules(self) -> list[dict]:
        return self._items("rules")

    def decoders(self) -> list[dict]:
        return self._items("decoders")


# -- Wazuh's item shapes ------------------------------------------------------------------


def _dynamic(details: dict, tag: str, value, attrs: dict) -> None:
    """Wazuh's ``add_dynamic_detail``: repeated options concatenate their patterns."""
    if tag in details and isinstance(details[tag], dict):
        pattern = (details[tag].get("pattern") or "") + (value or "")
        details[tag] = {"pattern": pattern}
    else:
        details[tag] = {"pattern": value}
    details[tag].update(attrs)


def _detail(details: dict, tag: str, value) -> None:
    """Wazuh's rule ``add_detail``: a repeated option becomes a list."""
    if tag in details:
        if not isinstance(details[tag], list):
            details[tag] = [details[tag]]
        details[tag].append(value)
    else:
        details[tag] = value


def rules_of(roots: list[Node], file: RulesetFile) -> list[dict]:
    """A rule file's rules as Wazuh's ``load_rules_from_file`` builds them."""
    variables = {f"${node.get('name')}": node.text for node in roots if node.tag == "var"}
    var_text = {node.get("name"): node.text for node in roots if node.tag == "var"}
    rules = []
    for group in roots:
        if group.tag.lower() != "group":
            continue
        general = (group.get("name") or "").split(",")
        for node in group.children:
            if node.tag.lower() != "rule":
                continue
            try:
                rule_id = int(variables.get(node.get("id"), node.get("id")))
                level = int(variables.get(node.get("level"), node.get("level")))
            except (TypeError, ValueError):
                continue  # the engine refuses such a file; nothing to list
            rule = {"filename": file.filename, "relative_dirname": file.relative_dirname,
                    "id": rule_id, "level": level, "status": file.status, "details": {},
                    **{req: [] for req in RULE_REQUIREMENTS}, "groups": [], "description": ""}
            for key, value in node.attrs.items():
                if key not in ("id", "level"):
                    rule["details"][key] = value
            groups: list[str] = []
            for option in node.children:
                tag, value, attrs = option.tag.lower(), option.text, dict(option.attrs)
                if tag == "group":
                    groups.extend(value.split(","))
                elif tag == "mitre":
                    groups.extend(f"mitre_{i.text.strip()}" for i in option.children if i.tag == "id")
                elif tag == "description":
                    rule["description"] += value
                elif tag in ("list", "info"):
                    _detail(rule["details"], tag, {"name": value, **attrs})
                elif tag in RULE_DYNAMIC:
                    if value.startswith("$") and value[1:] in var_text:
                        value = var_text[value[1:]]
                    if tag == "field":
                        tag = attrs.pop("name", "field")
                    _dynamic(rule["details"], tag, value, attrs)
                else:
                    _detail(rule["details"], tag, value)
            for name in [*groups, *general]:
                name = name.strip()
                for req in RULE_REQUIREMENTS:
                    if name.startswith(req):
                        value = name[len(req) + 1:]
                        if value not in rule[req]:
                            rule[req].append(value)
                        break
                else:
                    if name:
                        rule["groups"].append(name)
            rules.append(rule)
    return rules


def decoders_of(roots: list[Node], file: RulesetFile) -> list[dict]:
    """A decoder file's decoders as Wazuh's ``load_decoders_from_file`` builds them."""
    decoders, position = [], 0
    for node in roots:
        if node.tag.lower() != "decoder":
            continue
        decoder = {"filename": file.filename, "relative_dirname": file.relative_dirname,
                   "status": file.status, "name": node.get("name"), "position": position,
                   "details": {}}
        position += 1
        for key, value in node.attrs.items():
            if key != "name":
                decoder["details"][key] = value
        for option in node.children:
            tag = option.tag.lower()
            value = option.text if option.text.strip() or option.children else None
            if tag in DECODER_DYNAMIC:
                _dynamic(decoder["details"], tag, value, dict(option.attrs))
            else:
                decoder["details"][tag] = value
        decoders.append(decoder)
    return decoders


def xml_to_dict(roots: list[Node]) -> dict:
    """A file's content as ``xmltodict.parse('<root>' + content + '</root>')['root']``."""
    return _children(roots) or {}


def _element(node: Node):
    body: dict = {f"@{key}": value for key, value in node.attrs.items()}
    body.update(_children(node.children))
    text = node.text.strip()
    if not body:
        return text or None
    if text:
        body["#text"] = text
    return body


def _children(nodes: list[Node]) -> dict:
    out: dict = {}
    for child in nodes:
        value = _element(child)
        if child.tag in out:
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = value
    return out


_CDB_LINE = re.compile(r'^(?:"[^"]+"|[^:"]+):(?:"[^"]*"|[^:"]*)$')


def cdb_items(text: str) -> list[tuple[str, str]]:
    """A CDB list's ``key:value`` pairs in file order (quoted keys/values unquoted)."""
    pairs = []
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith('"') and (end := line.find('"', 1)) > 0:
            key, rest = line[1:end], line[end + 1:]
            value = rest[1:] if rest.startswith(":") else rest
        else:
            key, _, value = line.partition(":")
        if len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        pairs.append((key, value))
    return pairs


def check_cdb(text: str, where: str) -> None:
    """Wazuh's CDB format (one ``key:value`` per line, ``"quoted"`` when holding ':'),
    or WazuhError 1800 naming the first bad line."""
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip("\r")
        if line.strip() and not _CDB_LINE.match(line):
            raise WazuhError(1800, {"path": f"{where}, line {number}: {line[:120]!r}"})


# -- level filter ---------------------------------------------------------------------


def _levels(level: str | None) -> tuple[int, int] | None:
    if level is None or level == "":
        return None
    parts = str(level).split("-")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise WazuhError(1203) from None
    if len(numbers) == 1:
        return numbers[0], numbers[0]
    if len(numbers) == 2:
        return numbers[0], numbers[1]
    raise WazuhError(1203)


def _status(status: str | None) -> tuple[str, ...]:
    if status in (None, "", "all"):
        return ("enabled", "disabled")
    if status not in ("enabled", "disabled"):
        raise WazuhError(1202)
    return (status,)


def _strings(result: AffectedItemsResult, values, params: dict) -> AffectedItemsResult:
    """Paginate a list of strings (groups, requirements) with the one query layer."""
    sort = query_params(params).get("sort") or "+"
    params = {k: v for k, v in query_params(params).items() if k in ("offset", "limit", "search")}
    params["sort"] = f"{'-' if str(sort).startswith('-') else '+'}value"
    paginate(result, [{"value": v} for v in values], VALUES_SCHEMA, **params)
    result.affected_items = [row["value"] for row in result.affected_items]
    return result


# -- rules ----------------------------------------------------------------------------


def _readable(filters: dict, rtype: str, key: str = "rbac_files"):
    check = filters.get(key)
    return (lambda name: True) if check is None else (lambda name: check.matches([f"{rtype}:{name}"]))


async def _rule_rows(catalog: Catalog, readable) -> list[dict]:
    rows = await trio.to_thread.run_sync(catalog.rules)
    return [row for row in rows if readable(row["filename"])]


@expose_resources(actions=["rules:read"], resources=["rule:file:{rbac_files}"])
async def get_rules(rbac, rbac_files=None, *, rbac_filters, catalog: Catalog, rule_ids=None,
                    status=None, group=None, level=None, filename=None, relative_dirname=None,
                    pci_dss=None, gdpr=None, gpg13=None, hipaa=None, nist_800_53=None, tsc=None,
                    mitre=None, **params) -> AffectedItemsResult:
    """``GET /rules``: Wazuh's filters, then the shared query language."""
    result = AffectedItemsResult(all_msg="All selected rules were returned",
                                 some_msg="Some rules were not returned",
                                 none_msg="No rule was returned")
    levels, statuses = _levels(level), _status(status)
    rows = await _rule_rows(catalog, _readable(rbac_filters, "rule:file"))
    wanted_ids = list(rule_ids or [])
    missing = [i for i in wanted_ids if i not in {row["id"] for row in rows}]
    requirements = {"groups": group, "pci_dss": pci_dss, "gdpr": gdpr, "gpg13": gpg13,
                    "hipaa": hipaa, "nist_800_53": nist_800_53, "tsc": tsc, "mitre": mitre}

    def keep(row: dict) -> bool:
        if wanted_ids and row["id"] not in wanted_ids:
            return False
        if row["status"] not in statuses:
            return False
        if levels and not levels[0] <= row["level"] <= levels[1]:
            return False
        if filename and row["filename"] not in filename:
            return False
        if relative_dirname and row["relative_dirname"] != relative_dirname.rstrip("/"):
            return False
        return all(value in row[key] for key, value in requirements.items() if value)

    paginate(result, [row for row in rows if keep(row)], RULES_SCHEMA,
             **{"sort": "+id", **query_params(params)})
    for rule_id in missing:
        result.add_failed_item(rule_id, WazuhError(1208))
    return result


@expose_resources(actions=["rules:read"], resources=["rule:file:{rbac_files}"])
async def get_rule_groups(rbac, rbac_files=None, *, rbac_filters, catalog: Catalog,
                          **params) -> AffectedItemsResult:
    result = AffectedItemsResult(all_msg="All groups in rules were returned",
                                 some_msg="Some groups in rules were not returned",
                                 none_msg="No groups in rules were returned")
    rows = await _rule_rows(catalog, _readable(rbac_filters, "rule:file"))
    return _strings(result, sorted({g for row in rows for g in row["groups"]}), params)


@expose_resources(actions=["rules:read"], resources=["rule:file:{rbac_files}"])
async def get_rule_requirement(rbac, rbac_files=None, *, rbac_filters, catalog: Catalog,
                               requirement: str, **params) -> AffectedItemsResult:
    result = AffectedItemsResult(all_msg="All selected rules were returned",
                                 none_msg="No rule was returned")
    key = requirement.replace("-", "_")
    if key not in RULE_REQUIREMENTS:
        result.add_failed_item(requirement, WazuhError(1205, requirement,
                                                       f"Valid ones are {list(RULE_REQUIREMENTS)}"))
        return result
    rows = await _rule_rows(catalog, _readable(rbac_filters, "rule:file"))
    return _strings(result, sorted({r for row in rows for r in row[key]}), params)


def _files_result(kind: str) -> AffectedItemsResult:
    noun = "rule" if kind == "rules" else "decoder"
    return AffectedItemsResult(all_msg=f"All {noun} files were returned",
                               some_msg=f"Some {noun} files were not returned",
                               none_msg=f"No {noun} files were returned")


async def _xml_file_list(catalog: Catalog, kind: str, rtype: str, rbac_files, rbac_filters,
                         status, relative_dirname, params) -> AffectedItemsResult:
    result = _files_result(kind)
    statuses = _status(status)
    readable = _readable(rbac_filters, rtype)
    names = None if rbac_files is None else set(rbac_files)
    rows = [f.item() for f in catalog.xml_files(kind)
            if f.status in statuses and readable(f.filename)
            and (names is None or f.filename in names)
            and (not relative_dirname or f.relative_dirname == relative_dirname.rstrip("/"))]
    return paginate(result, rows, FILES_SCHEMA, **{"sort": "+filename", **query_params(params)})


@expose_resources(actions=["rules:read"], resources=["rule:file:{rbac_files}"])
async def get_rules_files(rbac, rbac_files=None, *, rbac_filters, catalog: Catalog, status=None,
                          relative_dirname=None, **params) -> AffectedItemsResult:
    """``GET /rules/files``; ``rbac_files`` is the ``filename`` filter (denied names fail 4000)."""
    return await _xml_file_list(catalog, "rules", "rule:file", rbac_files, rbac_filters, status,
                                relative_dirname, params)


def _find(catalog: Catalog, kind: str, filename: str, relative_dirname: str | None) -> RulesetFile | None:
    """Wazuh's ``get_rule_file_path``: the file of that name (in that directory); when several
    directories hold one, the one whose label is shortest."""
    found = [f for f in catalog.xml_files(kind) if f.filename == filename
             and (not relative_dirname or f.relative_dirname == relative_dirname.rstrip("/"))]
    return min(found, key=lambda f: len(f.relative_dirname)) if found else None


async def _xml_file_content(catalog: Catalog, kind: str, filename: str, raw: bool,
                            relative_dirname: str | None):
    noun = "rule" if kind == "rules" else "decoder"
    not_found, unreadable, bad = (1415, 1414, 1413) if kind == "rules" else (1503, 1502, 1501)
    result = AffectedItemsResult(all_msg=f"Selected {noun} was returned",
                                 none_msg=f"No {noun} was returned")
    file = _find(catalog, kind, filename, relative_dirname)
    if file is None:
        result.add_failed_item(filename, WazuhError(not_found, filename))
        return result
    try:
        text = await trio.Path(file.path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        result.add_failed_item(filename, WazuhError(unreadable, filename))
        return result
    if raw:
        return text
    try:
        roots = parse_xml(text, filename)
    except XMLSyntaxError as exc:
        result.add_failed_item(filename, WazuhError(bad, str(exc)))
        return result
    result.affected_items.append(xml_to_dict(roots))
    return result


@expose_resources(actions=["rules:read"], resources=["rule:file:{filename}"])
async def get_rule_file(rbac, filename: str, *, catalog: Catalog, raw: bool = False,
                        relative_dirname: str | None = None):
    """``GET /rules/files/{filename}``: the XML text (``raw``) or its parsed form."""
    return await _xml_file_content(catalog, "rules", filename, raw, relative_dirname)


# -- decoders -------------------------------------------------------------------------


@expose_resources(actions=["decoders:read"], resources=["decoder:file:{rbac_files}"])
async def get_decoders(rbac, rbac_files=None, *, rbac_filters, catalog: Catalog,
                       decoder_names=None, status=None, filename=None, relative_dirname=None,
                       parents: bool = False, **params) -> AffectedItemsResult:
    result = AffectedItemsResult(all_msg="All selected decoders were returned",
                                 some_msg="Some decoders were not returned",
                                 none_msg="No decoder was returned")
    statuses, readable = _status(status), _readable(rbac_filters, "decoder:file")
    rows = [row for row in await trio.to_thread.run_sync(catalog.decoders)
            if readable(row["filename"])]
    names = list(decoder_names or [])
    missing = [n for n in dict.fromkeys(names) if n not in {row["name"] for row in rows}]

    def keep(row: dict) -> bool:
        return ((not names or row["name"] in names) and row["status"] in statuses
                and (not filename or row["filename"] in filename)
                and (not relative_dirname or row["relative_dirname"] == relative_dirname.rstrip("/"))
                and not (parents and "parent" in row["details"]))

    paginate(result, [row for row in rows if keep(row)], DECODERS_SCHEMA,
             **{"sort": "+filename,+position", **query_params(params)})
    for name in missing:
        result.add_failed_item(name, WazuhError(1504))
    return result


@expose_resources(actions=["decoders:read"], resources=["decoder:file:{rbac_files}"])
async def get_decoders_files(rbac, rbac_files=None, *, rbac_filters, catalog: Catalog,
                             status=None, relative_dirname=None, **params) -> AffectedItemsResult:
    return await _xml_file_list(catalog, "decoders", "decoder:file", rbac_files, rbac_filters,
                                status, relative_dirname, params)


@expose_resources(actions=["decoders:read"], resources=["decoder:file:{filename}"])
async def get_decoder_file(rbac, filename: str, *, catalog: Catalog, raw: bool = False,
                           relative_dirname: str | None = None):
    return await _xml_file_content(catalog, "decoders", filename, raw, relative_dirname)


# -- CDB lists ------------------------------------------------------------------------


async def _read_list(file: RulesetFile) -> str:
    try:
        return await trio.Path(file.path).read_text(encoding="utf-8", errors="replace")
    except PermissionError:
        raise WazuhError(1803, file.filename) from None
    except OSError:
        raise WazuhError(1804, file.filename) from None


@expose_resources(actions=["lists:read"], resources=["list:file:{rbac_files}"])
async def get_lists(rbac, rbac_files=None, *, rbac_filters, catalog: Catalog, filename=None,
                    relative_dirname=None, **params) -> AffectedItemsResult:
    """``GET /lists``: each list file with its ``items`` (``key``/``value``)."""
    result = AffectedItemsResult(all_msg="All specified lists were returned",
                                 some_msg="Some lists were not returned",
                                 none_msg="No list was returned")
    readable = _readable(rbac_filters, "list:file")
    rows = []
    for file in catalog.list_files():
        if not readable(file.filename) or (filename and file.filename not in filename) or \
                (relative_dirname and file.relative_dirname != relative_dirname.rstrip("/")):
            continue
        items = cdb_items(await _read_list(file))
        rows.append({"items": [{"key": k, "value": v} for k, v in items],
                     "relative_dirname": file.relative_dirname, "filename": file.filename})
    return paginate(result, rows, LISTS_SCHEMA,
                    **{"sort": "+relative_dirname,+filename", **query_params(params)})


@expose_resources(actions=["lists:read"], resources=["list:file:{rbac_files}"])
async def get_lists_files(rbac, rbac_files=None, *, rbac_filters, catalog: Catalog, filename=None,
                          relative_dirname=None, **params) -> AffectedItemsResult:
    """``GET /lists/files``: where every list file is."""
    result = AffectedItemsResult(all_msg="All specified paths were returned",
                                 some_msg="Some paths were not returned",
                                 none_msg="No path was returned")
    readable = _readable(rbac_filters, "list:file")
    rows = [{"relative_dirname": f.relative_dirname, "filename": f.filename}
            for f in catalog.list_files()
            if readable(f.filename) and (not filename or f.filename in filename)
            and (not relative_dirname or f.relative_dirname == relative_dirname.rstrip("/"))]
    return paginate(result, rows, LISTS_SCHEMA,
                    **{"sort": "+relative_dirname,+filename", **query_params(params)})


def find_list(catalog: Catalog, filename: str) -> RulesetFile | None:
    """A list file by name (Wazuh searches the list directories recursively): a user
    directory's file first, else the first configured one."""
    found = [f for f in catalog.list_files() if f.filename == filename]
    return next((f for f in found if f.user), found[0] if found else None)


@expose_resources(actions=["lists:read"], resources=["list:file:{filename}"])
async def get_list_file(rbac, filename: str, *, catalog: Catalog, raw: bool = False):
    """``GET /lists/files/{filename}``: ``{key: value}`` or the raw text."""
    result = AffectedItemsResult(all_msg="CDB list was returned", none_msg="No list was returned")
    file = find_list(catalog, filename)
    try:
        if file is None:
            raise WazuhError(1802, filename)
        text = await _read_list(file)
    except WazuhError as exc:
        result.add_failed_item(filename, exc)
        return result
    if raw:
        return text
    result.affected_items.append(dict(cdb_items(text)))
    return result
