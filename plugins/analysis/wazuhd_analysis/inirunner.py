"""Run Wazuh-format ``.ini`` ruleset regression files (``wazuhd ruleset test``).

Format (Wazuh's ruleset test suite): each ``[section]`` is a test; each
distinct key ``log N pass`` / ``log N fail`` is one case; a key repeated in a
section joins its values into one multi-line case whose lines all go through
ONE session, in order, and only the last line's verdict counts.  The expected
verdict is the section's ``rule``, ``alert`` (level) and ``decoder``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

from .engine import Engine, Ruleset

__all__ = ["IniCase", "CaseResult", "parse_ini", "run_case", "run_files", "main_test"]


@dataclass
class IniCase:
    file: str
    section: str
    key: str
    lines: list[str]
    expect_pass: bool
    rule: str
    alert: str
    decoder: str
    location: str = "stdin"
    log_format: str = "syslog"


@dataclass
class CaseResult:
    case: IniCase
    ok: bool
    got: tuple[str, str, str]
    kind: str = ""  # failure kind


def parse_ini(path: str) -> list[IniCase]:
    """Parse one .ini file, keeping repeated keys (in order)."""
    sections: list[tuple[str, dict[str, list[str]]]] = []
    cur: dict[str, list[str]] | None = None
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.rstrip("\r\n")
            s = line.strip()
            if not s or s[0] in ";#":
                continue
            if s.startswith("[") and s.endswith("]"):
                cur = {}
                sections.append((s[1:-1], cur))
                continue
            if cur is None:
                continue
            k, sep, v = line.partition("=")
            if not sep:
                # continuation lines are not used by the suite; ignore
                continue
            key = k.strip().lower()
            # configparser (Wazuh's runner) strips the value on both sides
            cur.setdefault(key, []).append(v.strip())
    cases: list[IniCase] = []
    for name, opts in sections:
        rule = (opts.get("rule") or [""])[-1].strip()
        alert = (opts.get("alert") or [""])[-1].strip()
        decoder = (opts.get("decoder") or [""])[-1].strip()
        location = (opts.get("location") or ["stdin"])[-1].strip() or "stdin"
        log_format = (opts.get("log_format") or ["syslog"])[-1].strip() or "syslog"
        for key, vals in opts.items():
            parts = key.split()
            if len(parts) == 3 and parts[0] == "log" and parts[2] in ("pass", "fail"):
                cases.append(IniCase(path, name, key, vals, parts[2] == "pass",
                                     rule, alert, decoder, location, log_format))
    return cases


#: The suite's clock: a Wednesday at noon, local time. Rules with ``<time>`` or
#: ``<weekday>`` look at the time of analysis, so the suite's verdicts are those of
#: business hours whenever it runs (e.g. rule 17101 "login during non-business hours").
SUITE_CLOCK = time.mktime((2024, 1, 10, 12, 0, 0, 0, 0, -1))


def run_case(ruleset: Ruleset, case: IniCase) -> CaseResult:
    eng = Engine(ruleset)
    res = None
    for index, line in enumerate(case.lines):
        res = eng.process(line, case.location, log_format=case.log_format,
                          now=SUITE_CLOCK + index * 0.001)
    rid = res.rule.id if res.rule is not None else ""
    lvl = str(res.rule.level) if res.rule is not None else ""
    dec = res.decoder_name
    got = (rid, lvl, dec)
    want = (case.rule, case.alert, case.decoder)
    equal = got == want
    if case.expect_pass:
        ok = equal and all(want)
    else:
        ok = (not equal) or not all(want)
    kind = ""
    if not ok:
        if case.expect_pass:
            if not dec:
                kind = "not decoded"
            elif dec != case.decoder:
                kind = "decoded by another decoder"
            elif rid != case.rule:
                kind = "another rule"
            elif lvl != case.alert:
                kind = "another level"
            else:
                kind = "empty expectation"
        else:
            kind = "matched a verdict it must not"
    return CaseResult(case, ok, got, kind)


def run_files(ruleset: Ruleset, files: list[str], out=None, verbose: bool = True):
    """Run every case of ``files``; print per-file results; return
    ``(exit_code, results)`` where exit_code is 0 only when all passed."""
    out = out or sys.stdout
    results: list[CaseResult] = []
    for f in files:
        file_results = [run_case(ruleset, c) for c in parse_ini(f)]
        results.extend(file_results)
        passed = sum(r.ok for r in file_results)
        failed = len(file_results) - passed
        print(f"{os.path.basename(f)}: {passed} passed, {failed} failed", file=out)
        if verbose:
            for r in file_results:
                if r.ok:
                    continue
                c = r.case
                print(
                    f"  FAIL [{c.section}] {c.key}: {r.kind}: expected rule={c.rule or '-'} "
                    f"level={c.alert or '-'} decoder={c.decoder or '-'}, got rule={r.got[0] or '-'} "
                    f"level={r.got[1] or '-'} decoder={r.got[2] or '-'}",
                    file=out,
                )
    passed = sum(r.ok for r in results)
    print(f"{passed} passed, {len(results) - passed} failed", file=out)
    return (0 if passed == len(results) else 1), results


def main_test(ini_files: list[str], decoder_dirs: list[str], rule_dirs: list[str],
              list_files: list[str] | None = None, decoder_files=None, rule_files=None,
              out=None) -> int:
    """Entry point for ``wazuhd ruleset test``: load, run, return the exit code
    (2 when the ruleset does not load)."""
    from .errors import RulesetError

    out = out or sys.stdout
    try:
        rs = Ruleset.load(decoder_dirs=decoder_dirs, rule_dirs=rule_dirs,
                          list_files=list_files or [], decoder_files=decoder_files or [],
                          rule_files=rule_files or [])
    except RulesetError as exc:
        print(f"ruleset error: {exc}", file=out)
        return 2
    code, _ = run_files(rs, ini_files, out)
    return code


def cli(argv: list[str] | None = None, out=None) -> int:
    """``wazuhd ruleset test [--decoder-dir D] [--rule-dir R] [--list F] FILE.ini...``

    Exit codes: 0 all cases passed, 1 some failed, 2 the ruleset did not load
    or no .ini file was given."""
    import argparse

    ap = argparse.ArgumentParser(prog="wazuhd ruleset test", description=cli.__doc__.splitlines()[0])
    ap.add_argument("--decoder-dir", action="append", default=[], help="decoder directory (repeatable)")
    ap.add_argument("--rule-dir", action="append", default=[], help="rule directory (repeatable)")
    ap.add_argument("--decoder-file", action="append", default=[], help="extra decoder file (repeatable)")
    ap.add_argument("--rule-file", action="append", default=[], help="extra rule file (repeatable)")
    ap.add_argument("--list", action="append", default=[], help="CDB list file or directory (repeatable)")
    ap.add_argument("-q", "--quiet", action="store_true", help="only per-file counts, no failure lines")
    ap.add_argument("files", nargs="+", help=".ini test files")
    args = ap.parse_args(argv)
    out = out or sys.stdout
    lists: list[str] = []
    for p in args.list:
        if os.path.isdir(p):
            for root, _dirs, names in os.walk(p):
                lists.extend(os.path.join(root, n) for n in sorted(names) if not n.endswith(".cdb"))
        else:
            lists.append(p)
    from .errors import RulesetError

    try:
        rs = Ruleset.load(decoder_dirs=args.decoder_dir, rule_dirs=args.rule_dir, list_files=lists,
                          decoder_files=args.decoder_file, rule_files=args.rule_file)
    except RulesetError as exc:
        print(f"ruleset error: {exc}", file=out)
        return 2
    code, _ = run_files(rs, args.files, out, verbose=not args.quiet)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli())
