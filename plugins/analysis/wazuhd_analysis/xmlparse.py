"""A lenient XML reader for Wazuh ruleset files.

Wazuh's decoder and rule files are not well-formed XML: a file holds many
root elements, text contains raw ``&`` and even ``<`` (``\\<`` in OS_Regex),
and comments may contain ``--``.  This reader accepts that, keeps the line of
every element, and raises :class:`XMLSyntaxError` (file and line) on real
structural errors such as a missing or mismatched closing tag.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from .errors import RulesetError

__all__ = ["Node", "XMLSyntaxError", "parse_xml", "parse_xml_file", "parse_ruleset_file"]


class XMLSyntaxError(ValueError):
    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        self.file = file
        self.line = line
        where = f"{file or '<string>'}:{line}" if line else (file or "<string>")
        super().__init__(f"{where}: {message}")


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    line: int
    text: str = ""
    children: list["Node"] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)


_TOKEN = re.compile(
    r"<!--.*?-->"  # comment
    r"|<\?.*?\?>"  # processing instruction / declaration
    r"|<!\[CDATA\[(?P<cdata>.*?)\]\]>"
    r"|<!DOCTYPE[^>]*>"
    r"|<(?P<close>/)?(?P<tag>[A-Za-z_][\w.\-:]*)(?P<attrs>(?:\s+[^<>]*?)?)\s*(?P<empty>/)?>",
    re.DOTALL,
)
_ATTR = re.compile(r"""([A-Za-z_][\w.\-:]*)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);")


def _unescape(text: str) -> str:
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)


def _odd_backslashes(text: str, pos: int) -> bool:
    n = 0
    i = pos - 1
    while i >= 0 and text[i] == "\\":
        n += 1
        i -= 1
    return n % 2 == 1


def parse_xml(text: str, file: str | None = None) -> list[Node]:
    """Parse ``text`` and return its root elements in order."""
    roots: list[Node] = []
    stack: list[Node] = []
    pos = 0
    line = 1
    n = len(text)
    # an unterminated comment is an error Wazuh reports too
    while pos < n:
        lt = text.find("<", pos)
        if lt < 0:
            chunk = text[pos:]
            if stack:
                stack[-1].text += _unescape(chunk)
            line += chunk.count("\n")
            break
        if lt > pos:
            chunk = text[pos:lt]
            if stack:
                stack[-1].text += _unescape(chunk)
            line += chunk.count("\n")
            pos = lt
        if pos > 0 and text[pos - 1] == "\\" and stack and _odd_backslashes(text, pos):
            # OS_Regex's escaped '<' (e.g. `\<log>`) is text, not markup
            stack[-1].text += "<"
            pos += 1
            continue
        if text.startswith("<!--", pos) and text.find("-->", pos + 4) < 0:
            raise XMLSyntaxError("unterminated comment", file, line)
        m = _TOKEN.match(text, pos)
        if m is None:
            nxt = text[pos + 1 : pos + 2]
            if nxt.isalpha() or nxt in "/_!?":
                raise XMLSyntaxError("malformed or unterminated tag", file, line)
            # a bare '<' in text (e.g. OS_Regex's \<): keep it as text
            if stack:
                stack[-1].text += "<"
            pos += 1
            continue
        tok = m.group(0)
        tok_line = line
        line += tok.count("\n")
        pos = m.end()
        if m.group("cdata") is not None:
            if stack:
                stack[-1].text += m.group("cdata")
            continue
        tag = m.group("tag")
        if tag is None:
            continue  # comment / PI / doctype
        if m.group("close"):
            if not stack:
                raise XMLSyntaxError(f"closing tag </{tag}> without an opening tag", file, tok_line)
            top = stack.pop()
            if top.tag != tag:
                raise XMLSyntaxError(
                    f"closing tag </{tag}> does not match <{top.tag}> opened at line {top.line}",
                    file,
                    tok_line,
                )
            continue
        attrs_src = m.group("attrs") or ""
        attrs = {}
        for am in _ATTR.finditer(attrs_src):
            val = am.group(2) if am.group(2) is not None else am.group(3)
            attrs[am.group(1)] = _unescape(val)
        leftover = _ATTR.sub("", attrs_src).strip()
        if leftover:
            raise XMLSyntaxError(f"malformed attributes in <{tag}>: {leftover!r}", file, tok_line)
        node = Node(tag, attrs, tok_line)
        if stack:
            stack[-1].children.append(node)
        else:
            roots.append(node)
        if not m.group("empty"):
            stack.append(node)
    if stack:
        top = stack[-1]
        raise XMLSyntaxError(f"element <{top.tag}> is never closed", file, top.line)
    return roots


def parse_xml_file(path: str) -> list[Node]:
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        return parse_xml(fh.read(), path)


def parse_ruleset_file(path: str, kind: str) -> list[Node]:
    """A decoder or rule file's elements; any problem is a RulesetError naming the file
    (and the line, for a syntax error)."""
    try:
        return parse_xml_file(path)
    except XMLSyntaxError as exc:
        raise RulesetError(str(exc).split(": ", 1)[-1], file=path, line=exc.line) from exc
    except OSError as exc:
        raise RulesetError(f"cannot read {kind} file: {exc}", file=path) from exc
