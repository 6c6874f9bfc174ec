"""Results of framework operations, rendered to Wazuh's response envelope.

An operation over many targets (agents, users, files...) rarely succeeds or fails as a
whole: :class:`AffectedItemsResult` keeps what worked and what failed (ids grouped by
error), merges partial results with ``|`` (local pieces, later one per cluster node) and
renders ``{"data": {...}, "message": ..., "error": 0|1|2}`` as Wazuh does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Number

from wazuhd.errors import WazuhException
from wazuhd.query import Query, Schema, SortKey, apply, sort_rows

#: ``error`` of the envelope: everything worked (or nothing was asked), nothing did, some did.
COMPLETE, FAILED, PARTIAL = 0, 1, 2


@dataclass(frozen=True)
class FailedError:
    """The error shared by a group of failed ids, as the client sees it."""

    code: int
    message: str
    remediation: str | None = None

    @classmethod
    def from_exception(cls, exc: WazuhException) -> FailedError:
        return cls(exc.code, exc.message, exc.remediation)

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.remediation is not None:
            body["remediation"] = self.remediation
        return body


def _sorted_ids(ids: Iterable) -> list:
    """Numeric ids ('001', 2) in numeric order, anything else as text, like Wazuh."""
    ids = list(ids)
    try:
        return sorted(ids, key=int)
    except (TypeError, ValueError):
        return sorted(ids, key=str)


def merge_values(left, right):
    """Wazuh's merge of two result values: dicts recursively, numbers added, lists
    concatenated without repeats, differing strings joined with '|'."""
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = merge_values(merged[key], value) if key in merged else value
        return merged
    if isinstance(left, list) and isinstance(right, list):
        return [*left, *(item for item in right if item not in left)]
    if isinstance(left, Number) and isinstance(right, Number) and not isinstance(left, bool):
        return left + right
    if isinstance(left, str) and isinstance(right, str):
        return left if left == right else f"{left}|{right}"
    return right


class WazuhResult(dict):
    """A non-list result (a configuration, a status...): a dict that merges like Wazuh's."""

    def __or__(self, other: Mapping) -> WazuhResult:
        if not isinstance(other, Mapping):
            return NotImplemented
        return WazuhResult(merge_values(self, other))

    def render(self) -> dict:
        return {**self, "error": 0}


class AffectedItemsResult:
    """Affected items plus failed ids grouped by error; ``|`` merges two of them."""

    def __init__(self, all_msg: str = "", some_msg: str = "", none_msg: str = "",
                 sort_fields: Sequence[str] | None = None,
                 sort_ascending: bool | Sequence[bool] = True,
                 extra: Mapping | None = None):
        self.all_msg, self.some_msg, self.none_msg = all_msg, some_msg, none_msg
        self.sort_fields = list(sort_fields or [])
        self.sort_ascending = sort_ascending
        #: Other keys rendered inside ``data`` (Wazuh's ``dikt``), merged with :func:`merge_values`.
        self.extra = dict(extra or {})
        self.affected_items: list = []
        self._failed: dict[FailedError, set] = {}
        self._total_affected: int | None = None

    # -- building ------------------------------------------------------------------------
    def add_affected_items(self, items: Iterable) -> None:
        self.affected_items.extend(items)

    def add_failed_item(self, id_, error: WazuhException | FailedError) -> None:
        key = error if isinstance(error, FailedError) else FailedError.from_exception(error)
        self._failed.setdefault(key, set()).add(id_)

    def add_failed_items_from(self, other: AffectedItemsResult) -> None:
        for error, ids in other._failed.items():
            self._failed.setdefault(error, set()).update(ids)

    # -- reading -------------------------------------------------------------------------
    @property
    def total_affected_items(self) -> int:
        """len(affected_items) unless set: a paginated list reports the total before limit."""
        return len(self.affected_items) if self._total_affected is None else self._total_affected

    @total_affected_items.setter
    def total_affected_items(self, value: int) -> None:
        self._total_affected = value

    @property
    def failed_items(self) -> dict[FailedError, list]:
        return {error: _sorted_ids(ids) for error, ids in self._failed.items()}

    @property
    def total_failed_items(self) -> int:
        return sum(len(ids) for ids in self._failed.values())

    @property
    def message(self) -> str:
        if self.total_affected_items == 0:
            return self.none_msg
        return self.all_msg if self.total_failed_items == 0 else self.some_msg

    @property
    def error(self) -> int:
        if self.total_failed_items == 0:
            return COMPLETE
        return PARTIAL if self.total_affected_items > 0 else FAILED

    def _sort_keys(self) -> list[SortKey]:
        ascending = self.sort_ascending
        if isinstance(ascending, bool):
            ascending = [ascending] * len(self.sort_fields)
        return [SortKey(field, asc) for field, asc in zip(self.sort_fields, ascending, strict=True)]

    # -- combining -----------------------------------------------------------------------
    def __or__(self, other: AffectedItemsResult) -> AffectedItemsResult:
        """Both sides' items (re-sorted by this result's sort fields), failed ids united per
        error, totals added; messages and sort settings come from the left side."""
        if not isinstance(other, AffectedItemsResult):
            return NotImplemented
        merged = AffectedItemsResult(self.all_msg, self.some_msg, self.none_msg,
                                     self.sort_fields, self.sort_ascending,
                                     merge_values(self.extra, other.extra))
        items = [*self.affected_items, *other.affected_items]
        merged.affected_items = sort_rows(items, self._sort_keys()) if self.sort_fields else items
        merged.add_failed_items_from(self)
        merged.add_failed_items_from(other)
        if self._total_affected is not None or other._total_affected is not None:
            merged.total_affected_items = self.total_affected_items + other.total_affected_items
        return merged

    # -- output --------------------------------------------------------------------------
    def render(self) -> dict:
        """Wazuh's envelope; failed groups ordered by code, ids in numeric order when numeric."""
        failed = sorted(self._failed.items(), key=lambda group: (group[0].code, group[0].message))
        data = {
            "affected_items": self.affected_items,
            "total_affected_items": self.total_affected_items,
            "total_failed_items": self.total_failed_items,
            "failed_items": [{"error": error.to_dict(), "id": _sorted_ids(ids)} for error, ids in failed],
            **self.extra,
        }
        return {"data": data, "message": self.message, "error": self.error}

    def to_json(self) -> dict:
        """Everything needed to rebuild this result elsewhere (another node): plain JSON."""
        return {
            "all_msg": self.all_msg, "some_msg": self.some_msg, "none_msg": self.none_msg,
            "sort_fields": self.sort_fields, "sort_ascending": self.sort_ascending,
            "extra": self.extra, "affected_items": self.affected_items,
            "total_affected_items": self._total_affected,
            "failed_items": [{"error": error.to_dict(), "id": list(ids)} for error, ids in self._failed.items()],
        }

    @classmethod
    def from_json(cls, data: Mapping) -> AffectedItemsResult:
        result = cls(data["all_msg"], data["some_msg"], data["none_msg"],
                     data["sort_fields"], data["sort_ascending"], data["extra"])
        result.affected_items = list(data["affected_items"])
        if data["total_affected_items"] is not None:
            result.total_affected_items = data["total_affected_items"]
        for group in data["failed_items"]:
            error = FailedError(**group["error"])
            for id_ in group["id"]:
                result.add_failed_item(id_, error)
        return result


def paginate(result: AffectedItemsResult, rows: Iterable[Mapping], schema: Schema | None = None,
             **params) -> AffectedItemsResult:
    """Fill ``result`` with one page of ``rows`` after the query language's ``params``
    (offset, limit, sort, search, select, q, distinct); the total counts every match."""
    page = apply(rows, Query.from_params(**params), schema)
    result.affected_items = page.items
    result.total_affected_items = page.total
    return result
