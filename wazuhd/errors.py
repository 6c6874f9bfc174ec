"""Error catalog and the exceptions every layer raises.

Codes, messages and HTTP statuses follow Wazuh 4.x wherever Wazuh has a code for the
same condition, because API clients match on them. Plugins add their own codes with
:func:`register_codes`; a code can be registered only once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: HTTP status answered for each kind of error.
KIND_STATUS = MappingProxyType({
    "error": 400,
    "permission": 403,
    "not_found": 404,
    "not_acceptable": 406,
    "too_many_requests": 429,
    "internal": 500,
})

_DOCS = "https://documentation.wazuh.com/4.14/user-manual"
_LOGS = "Please, check `logs/wazuhd.log` under the wazuhd home for details"


@dataclass(frozen=True)
class ErrorCode:
    """One catalogued condition: what the client reads and which status it gets."""

    code: int
    message: str
    remediation: str | None = None
    kind: str = "error"
    http_status: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind not in KIND_STATUS:
            raise ValueError(f"error {self.code}: unknown kind {self.kind!r} "
                             f"(expected one of {', '.join(KIND_STATUS)})")
        expected = KIND_STATUS[self.kind]
        if self.http_status == 0:
            object.__setattr__(self, "http_status", expected)
        elif self.http_status != expected:
            raise ValueError(f"error {self.code}: kind {self.kind!r} answers HTTP {expected}, "
                             f"not {self.http_status}")


def _entries(kind: str, rows: dict[int, tuple[str, str | None] | str]) -> dict[int, ErrorCode]:
    return {
        code: ErrorCode(code, *(row if isinstance(row, tuple) else (row, None)), kind=kind)
        for code, row in rows.items()
    }


_CATALOG: dict[int, ErrorCode] = {
    **_entries("internal", {
        1000: ("Wazuh Internal Error", _LOGS),
        1005: ("Error reading file", "Please, make sure wazuhd can read the files under its home"),
        1010: ("Unable to connect to queue", "Please, make sure wazuhd is running"),
        1011: ("Error communicating with queue", "Please, make sure wazuhd is running"),
        1013: ("Unable to connect with socket", "Please, restart wazuhd to restore its sockets"),
        1014: ("Error communicating with socket", "Please, restart wazuhd to restore its sockets"),
        1016: ("Error moving file", "Please, make sure wazuhd can write the files under its home"),
        1017: 'Some Wazuh daemons are not ready yet in node "{node_name}" ({not_ready_daemons})',
        1019: "Error trying to create backup file",
        1105: ("Error reading API configuration", "Please, check the `api` section of etc/wazuhd.yaml"),
        1121: ("Error connecting with socket",
               "Please, make sure the selected module is running and properly configured"),
        1123: "Error communicating with socket. Query too long",
        2000: "No such database file",
        2002: "Maximum attempts exceeded for sqlite3 execute",
        2005: "Could not connect to wdb socket",
        2006: "Received JSON from Wazuh DB is not correctly formatted",
        2007: "Error retrieving data from Wazuh DB",
        2008: ("Corrupted RBAC database", "Restart wazuhd to restore the RBAC database to its defaults"),
        3000: "Cluster",
        3004: ("Error in cluster configuration", "Please, check the `cluster` section of etc/wazuhd.yaml"),
        3006: ("Error reading cluster configuration", "Please, check the `cluster` section of etc/wazuhd.yaml"),
        3009: "Error executing distributed API request",
        3012: "Cluster is not running",
        3013: ("Cluster is not running, it might be disabled in `WAZUH_HOME/etc/ossec.conf`",
               "Please, enable the `cluster` section of etc/wazuhd.yaml"),
        3018: "Error sending request",
        3020: ("Timeout sending request", "Please, try to make the request again"),
        3021: "Timeout executing API request",
        3023: ("Worker node is not connected to master", "Please, check the worker's cluster log and restart it"),
        3025: ("Could not decrypt message", "Please, make sure the worker's cluster key is the master's"),
        3028: ("Worker node ID already exists", "Please, give every worker a unique node name"),
        3029: ("Connected worker with same name as the master", "Please, rename the worker node"),
        3030: ("Worker does not belong to the same cluster", "Please, use the master's cluster name in the worker"),
        3031: ("Worker and master versions are not the same", "Please, run the same version on every node"),
        3032: "Could not forward DAPI request. Connection not available.",
        4021: "Error reading security configuration",
        6003: ("Error trying to load the JWT secret",
               "Please, make sure wazuhd can read the JWT keys under etc/ of its home"),
        7000: "Error trying to get logtest response",
    }),
    **_entries("error", {
        1006: ("File/directory does not exist or there is a problem with the permissions",
               "Please, check that the path is correct and readable by wazuhd"),
        1012: "Invalid message to queue",
        1018: "Body request is not a valid JSON",
        1101: ("Requested component does not exist", "Please, use one of the components the endpoint lists"),
        1102: ("Invalid section", f"Please, see {_DOCS}/reference/ossec-conf/index.html for the sections"),
        1103: ("Invalid field in section", f"Please, see {_DOCS}/reference/ossec-conf/index.html for the fields"),
        1104: ("Invalid type", "Insert a valid type"),
        1106: ("Requested section not present in configuration", "Please, check your configuration file"),
        1112: ("Empty files are not supported", "Please, provide another file"),
        1113: ("XML syntax error", "Please, ensure file content has correct XML"),
        1114: "Wazuh syntax error",
        1116: ("Requested component configuration does not exist",
                "Please, use one of the component configurations the endpoint lists"),
        1117: "Unable to connect with component. The component might be disabled.",
        1118: "Could not request component configuration",
        1122: ("Experimental features are disabled", "Please, enable experimental features in the `api` section"),
        1124: ("Remote command detected", "Please, allow remote commands in the `api` section or add an exception"),
        1125: ("Invalid ossec configuration", "Please, provide a valid configuration"),
        1126: ("Error updating ossec configuration", "Please, make sure wazuhd can write its configuration"),
        1127: ("Forbidden section detected", "Please, allow that section in the `api` section first"),
        1128: "Invalid configuration for the given component",
        1200: ("Error reading rules from `WAZUH_HOME/etc/ossec.conf`", "Please, check the ruleset configuration"),
        1201: ("Error reading rule files", "Please, check the ruleset configuration"),
        1202: ("Argument 'status' must be: enabled, disabled or all",
               "Please indicate one of the following states: enabled, disabled, all"),
        1203: ("Error in argument 'level'", "Argument 'level' must be a number or an interval separated by '-'"),
        1205: ("Requirement not valid", "Please indicate one of the following values:"),
        1207: ("Error reading rule files, wrong permissions", "Please, check your permissions over the file"),
        1208: "The rule does not exist or you do not have permission to see it",
        1307: "Invalid parameters",
        1309: "Statistics file damaged",
        1310: ("Invalid agent ID", "This component only exists in real agents"),
        1400: ("Invalid offset", "Please, use an offset of 0 or more"),
        1401: ("Invalid limit", "Please, select a limit between 1 and 100000"),
        1402: ("Invalid sort_ascending field", "Please, use only true if ascending or false if descending"),
        1403: ("Not a valid sort field ", "Please, use only allowed sort fields"),
        1405: ("Specified limit exceeds maximum allowed", "Please select a limit between 1 and 100000"),
        1406: ("0 is not a valid limit", "Please select a limit between 1 and 100000"),
        1407: ("Query does not match expected format",
               "Please, write q as field, operator (=, !=, <, >, ~) and value, joined by ';' (and) "
               "or ',' (or), optionally grouped with parentheses"),
        1408: ("Field does not exist.", "Please, filter only by the fields the endpoint returns"),
        1409: ("Invalid query operator", "Please, use one of: =, !=, <, >, ~"),
        1410: "Selecting more than one field in distinct mode",
        1411: "TimeFrame is not valid",
        1412: "Date filter not valid. Valid formats are YYYY-MM-DD HH:mm:ss, YYYY-MM-DDTHH:mm:ssZ or YYYY-MM-DD",
        1413: "Error reading rules file",
        1414: ("Error reading rules file", "Please, make sure you have read permissions over the file"),
        1500: ("Error reading decoders from ossec.conf", "Please, check the ruleset configuration"),
        1501: "Error reading decoders file",
        1502: ("Error reading decoders file", "Please, make sure you have read permissions on the file"),
        1504: "The decoder does not exist or you do not have permission to see it",
        1603: "Invalid status. Valid statuses are: all, solved and outstanding",
        1650: "Active response - Command not specified",
        1652: "Active response - Unable to run command",
        1703: ("Action not available for Manager (agent 000)",
               "Please, use `GET /agents?select=id,name` to find all available agents and make sure you "
               "select an agent other than 000"),
        1705: ("There is an agent with the same name", "Please choose another name"),
        1706: ("There is an agent with the same IP or the IP is invalid", "Please choose another IP"),
        1707: ("Cannot send request, agent is not active",
               "Please, check non-active agents connection and try again"),
        1708: ("There is an agent with the same ID", "Please choose another ID"),
        1709: ("Too short key size", "The necessary size for the key is 64 characters at least"),
        1711: ("The group already exists", "Please, use another group ID"),
        1712: ("Default group is not deletable", f"Please, see {_DOCS}/agents/grouping-agents.html"),
        1713: ("Invalid group ID. Some IDs are restricted for internal purposes", "Please, use another group ID"),
        1722: ("Incorrect format for group_id", "Characters supported  a-z, A-Z, 0-9, ., _ and -. Max length is 255"),
        1723: "Hash algorithm not available",
        1724: ("Not a valid select field", "Please, use only allowed select fields"),
        1725: ("Error registering a new agent", "Please check all data fields and try again"),
        1726: ("Wazuh authd is not running", "Please enable authd or check if there is any error"),
        1727: ("Error listing group files", "Please, use `GET /agents/groups/:group_id/files` to get all "
                                           "available group files"),
        1728: ("Invalid node type", "Valid types are `master` and `worker`"),
        1731: ("Agent is not eligible for the action to be performed",
               "Please, make sure the agent meets the requirements."),
        1734: ("Error removing agent from group", "Agent does not belong to specified group"),
        1735: ("Agent version is not compatible with this feature", "Please update the agent"),
        1737: ("Maximum number of groups per multigroup is 128",
               "Please choose another group or remove an agent from the target group"),
        1738: ("Agent name is too long", "Max length allowed for agent name is 128"),
        1740: ("Action only available for active agents", "Please activate the agent to synchronize it"),
        1745: "Agent only belongs to 'default' and it cannot be unassigned from this group.",
        1750: ("Could not send restart command, active-response is disabled in the agent",
               "You can activate it in the agent's configuration"),
        1751: ("Could not assign agent to group",
               "Agent already belongs to specified group, please select another agent"),
        1752: "Could not force single group for the agent",
        1757: ("Error deleting an agent", "Please check all data fields and try again"),
        1800: "Bad format in CDB list {path}",
        1801: ("Wrong 'path' parameter", "Please, provide a correct path"),
        1803: ("Error reading lists file", "Please, make sure you have read permissions over the file"),
        1804: ("Error reading lists file", "Please, make sure you provide a correct filepath"),
        1805: ("File with the same name already exists in a subdirectory.",
               "Please, make sure to use a name which is not repeated. "),
        1806: "Error trying to create CDB list file.",
        1901: "'execq' socket has not been created",
        1902: "Connection to 'execq' socket failed",
        1904: "Bad data from 'wcom'",
        1905: ("File could not be updated, it already exists",
               "Please, provide a different file or set overwrite=True to overwrite actual file"),
        1907: ("File could not be deleted", "Please, ensure you have the right file permissions"),
        1908: ("Error validating configuration", "Please, fix the corrupted files"),
        1910: "Content-type header is mandatory",
        1911: ("Error parsing body request to UTF-8", "Please, check if the file content is valid UTF-8"),
        1912: ("Body is empty", "Please, check the content of the file to be uploaded"),
        1913: ("Error getting manager status, directory /proc is not found or permissions to see its status "
               "are not granted", "Please, ensure /proc exists and permissions are granted"),
        2003: ("Error in wazuhdb request", "Make sure the request is correct"),
        2004: "Database query not valid",
        2009: "Pagination error. Response from wazuh-db was over the maximum socket buffer size",
        4001: "The body of the request is empty, you must specify what you want to modify",
        4003: ("The specified rule is invalid", "The rule must be in JSON format."),
        4005: "The specified name or rule already exists",
        4006: ("The specified policy is invalid",
               'The policy must be in JSON format and its keys must be "actions", "resources" and "effect". '
               'The actions and resources must be split by ":". Example: agent:id:001'),
        4008: "The specified resource is required for a correct Wazuh's functionality",
        4009: "The specified name or policy already exists",
        4011: "The specified role-policy link already exist",
        4013: "The specified name already exists",
        4017: "The specified user-role relation already exists",
        4018: "Level cannot be a negative number",
        4019: ("Invalid resource specified", "Please, check the resources listed by `GET /security/resources`"),
        4020: ("Invalid endpoint specified", "Valid endpoints are"),
        4023: "The specified role-rule relation already exist",
        4025: "The specify relationship could not be removed",
        4500: ("The specified resources are invalid", "Please, make sure permissions are properly defined"),
        5000: ("The user could not be created",
               "Please check that the user does not exist, to do this you can use the `GET /security/users` call"),
        5004: ("The user could not be removed or updated", "Administrator users cannot be removed or updated"),
        5007: ("Insecure user password provided",
               "The password must contain at least one upper and lower case letter, a number and a symbol."),
        5008: ("The current user cannot be deleted",
               "You can delete this user with the administrator user (wazuh) or any other user with the "
               "necessary permissions"),
        5009: ("Insecure user password provided", "The password must contain a length between 8 and 64 characters."),
        5010: ("The value of the parameter allow_run_as is invalid",
               "The value of the allow_run_as parameter must be true or false"),
        5011: ("Administrator users can only be modified by themselves", "Log in as administrator and try again"),
        6004: ("The current user does not have authentication enabled through authorization context",
               "You can enable it with `PUT /security/users/{user_id}/run_as`"),
        7001: ("Error trying to read logtest session token",
               'Make sure you introduce the token within the field "token"'),
    }),
    **_entries("not_found", {
        1020: ("Could not find any Wazuh log file", "Please, check the `logs/` folder of the wazuhd home"),
        1308: ("Stats file does not exist", "Stats files are usually generated at 12 PM on a daily basis"),
        1415: ("Rules file not found", "Please, use GET /rules/files to list all available rules"),
        1503: ("Decoders file not found", "Please, use GET /decoders/files to list all available decoders"),
        1701: ("Agent does not exist", "Please, use `GET /agents?select=id,name` to find all available agents"),
        1710: ("The group does not exist", "Please, use `GET /groups` to find all available groups"),
        1730: ("Node does not exist", "Make sure the name is correct and that the node is up"),
        1802: ("Lists file not found", "Please, use `GET /lists/files` to find all available lists"),
        1906: ("File does not exist",
               "Please, provide a different file or make sure provided file path is correct"),
        3022: ("Unknown node ID", "Check the name of the node"),
        4002: ("The specified role does not exist",
               "Please, create the specified role with the endpoint POST /security/roles"),
        4007: ("The specified policy does not exist",
               "Please, create the specified policy with the endpoint POST /security/policies"),
        4010: ("The specified role-policy relation does not exist",
               "Please, create the specified role-policy relation with the endpoint "
               "POST /security/roles/{role_id}/policies"),
        4016: ("The specified user-role relation does not exist",
               "Please, create the specified user-role relation with the endpoint "
               "POST /security/user/{username}/roles"),
        4022: ("The specified security rule does not exist",
               "Please, create the specified security rule with the endpoint POST /security/rules"),
        4024: ("The specified role-rule relation does not exist",
               "Please, create the specified role-rules relation with the endpoint "
               "POST /security/roles/{role_id}/rules"),
        5001: ("The user does not exist", "The user can be created with the endpoint POST /security/users"),
    }),
    **_entries("permission", {
        4000: ("Permission denied",
               "Please, make sure you have permissions to execute the current request. For more information on "
               f"how to set up permissions, please visit {_DOCS}/api/rbac/configuration.html"),
        4015: ("Permission denied, could not remove agents from group before deleting it",
               "Please, make sure you have the right permissions for actions: agent:modify_group and "
               "group:modify_assignments before attempting to delete the group"),
        6000: "Limit of login attempts reached. The current IP has been blocked due to a high number of "
              "login attempts",
    }),
    **_entries("too_many_requests", {
        6001: ("Maximum number of requests per minute reached",
               "This limit can be changed in the `api.access.max_request_per_minute` setting"),
        6005: ("Maximum number of requests per minute reached",
               "This limit can be changed in the `api.access.max_request_per_minute` setting"),
    }),
    **_entries("not_acceptable", {
        6002: "The body type is not the one specified in the content-type",
    }),
}


def get_code(code: int) -> ErrorCode:
    """The catalogue entry of ``code``; a missing code is a programming error, said plainly."""
    try:
        return _CATALOG[code]
    except KeyError:
        raise LookupError(f"error code {code} is not catalogued; register it with "
                          "wazuhd.errors.register_codes()") from None


def codes() -> Mapping[int, ErrorCode]:
    """A read-only view of the whole catalogue (for docs, `wazuhd` CLI listings and tests)."""
    return MappingProxyType(_CATALOG)


def register_codes(mapping: Mapping[int, ErrorCode | Mapping | str]) -> None:
    """Add a plugin's codes: values are ErrorCode, {"message", "remediation", "kind"} or a message.

    All-or-nothing: a code already catalogued (or repeated with another number inside an
    ErrorCode) rejects the whole mapping, so two plugins cannot silently share a code.
    """
    new: dict[int, ErrorCode] = {}
    for code, spec in mapping.items():
        if isinstance(spec, ErrorCode):
            entry = spec
        elif isinstance(spec, str):
            entry = ErrorCode(code, spec)
        else:
            unknown = set(spec) - {"message", "remediation", "kind", "http_status"}
            if unknown:
                raise ValueError(f"error {code}: unknown keys {sorted(unknown)}")
            entry = ErrorCode(code, **spec)
        if entry.code != code:
            raise ValueError(f"error {code}: registered under {code} but its ErrorCode says {entry.code}")
        if code in _CATALOG:
            raise ValueError(f"error code {code} is already registered "
                             f"({_CATALOG[code].message!r}); pick another number")
        new[code] = entry
    _CATALOG.update(new)


class WazuhException(Exception):
    """An error with a catalogued code; ``extra_message``/``extra_remediation`` add specifics.

    ``extra_message`` may be a dict filling the catalogue message's ``{placeholders}``.
    """

    title = "Wazuh Error"
    #: None: the catalogue decides (the base class is raised for any kind of code).
    status: int | None = None

    def __init__(self, code: int, extra_message: str | Mapping | None = None,
                 extra_remediation: str | None = None):
        entry = get_code(code)
        self.code = code
        self.extra_message = extra_message
        self.extra_remediation = extra_remediation
        if isinstance(extra_message, Mapping):
            self.message = entry.message.format(**extra_message)
        elif extra_message:
            self.message = f"{entry.message}: {extra_message}"
        else:
            self.message = entry.message
        parts = [part for part in (entry.remediation, extra_remediation) if part]
        self.remediation = ": ".join(parts) if parts else None
        super().__init__(code, self.message)

    @property
    def http_status(self) -> int:
        return self.status if self.status is not None else get_code(self.code).http_status

    def __str__(self) -> str:
        return f"Error {self.code} - {self.message}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WazuhException):
            return NotImplemented
        return (type(self), self.code, self.message, self.remediation) == \
            (type(other), other.code, other.message, other.remediation)

    def __hash__(self) -> int:
        return hash((type(self), self.code, self.message, self.remediation))

    def to_dict(self) -> dict:
        """The API's problem object (spec ``ApiError``): title, detail, remediation, error."""
        problem = {"title": self.title, "detail": self.message}
        if self.remediation is not None:
            problem["remediation"] = self.remediation
        problem["error"] = self.code
        return problem


class WazuhError(WazuhException):
    """The request cannot be done as asked (client side)."""

    title = "Bad Request"
    status = 400


class WazuhPermissionError(WazuhError):
    title = "Permission Denied"
    status = 403


class WazuhResourceNotFound(WazuhError):
    title = "Resource Not Found"
    status = 404


class WazuhNotAcceptable(WazuhError):
    title = "Not Acceptable"
    status = 406


class WazuhTooManyRequests(WazuhError):
    title = "Too Many Requests"
    status = 429


class WazuhInternalError(WazuhException):
    """Something failed on our side; the client cannot fix it."""

    title = "Wazuh Internal Error"
    status = 500


_KIND_CLASS = {
    "error": WazuhError,
    "permission": WazuhPermissionError,
    "not_found": WazuhResourceNotFound,
    "not_acceptable": WazuhNotAcceptable,
    "too_many_requests": WazuhTooManyRequests,
    "internal": WazuhInternalError,
}


def error_for(code: int, extra_message: str | Mapping | None = None,
              extra_remediation: str | None = None) -> WazuhException:
    """An exception of the class the catalogue gives ``code`` (e.g. 1701 -> WazuhResourceNotFound)."""
    return _KIND_CLASS[get_code(code).kind](code, extra_message, extra_remediation)
