#!/usr/bin/env python3
"""Validates tickscope's LAVA files with LAVA's own schemas (lava_common, from Debian's
lava-common package on PYTHONPATH): test definitions (Lava-Test Test Definition 1.0), job
templates (rendered with Jinja2, then the job schema, strict), and `tickscope export --format
lava` output (lava-test-case lines: LAVA's test-case name rule, a result, a number, units).

Usage: validate.py [--invalid FILE]... [--lava-cases FILE]... [--console LOG]... FILE...
Files given plainly must be valid; files after --invalid must be refused (an --invalid before
--lava-cases: cases that must be refused). A --console log must have at least one line the
`monitors` patterns of the job files match (as LAVA's monitor action reads a console), with a
result and a number. Exit 0 when every expectation holds, 1 otherwise; one line per file says
what was found."""

import re
import shlex
import sys

import jinja2
import yaml
from voluptuous import All, Any, Coerce, Invalid, Match, MultipleInvalid, Required, Schema

from lava_common.schemas import validate as validate_job
from lava_common.schemas.test.testdef import validate as validate_testdef

# The name rule LAVA applies to test names and monitors (lava_common.schemas.test.*).
LAVA_NAME = Match(r"^[-_a-zA-Z0-9.]+$")
CASE = Schema(
    {
        Required("name"): All(str, LAVA_NAME),
        Required("result"): Any("pass", "fail", "skip", "unknown"),
        "measurement": Coerce(float),
        "units": All(str, Match(r"^\S+$")),
    }
)
RENDER = {"firmware_url": "http://lava.example.org/tickscope-fw", "mode": "timer",
          # tickscope config --json "mode=timer smp=4 duration=1s transport=uart icount=on"
          "firmware_arg": "cfg=c5010100040000000000000000000000ca9a3b0000000040420f0000000000e80300000000000000000000000000000000000000010000000000c2010001ffff00ca9a3b00000000"}


def load(path):
    text = open(path, encoding="utf-8").read()
    if path.endswith(".j2"):
        text = jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(text).render(**RENDER)
    return yaml.safe_load(text)


def check_yaml(path):
    data = load(path)
    if not isinstance(data, dict):
        raise Invalid("not a YAML mapping")
    if "job_name" in data or "actions" in data:
        validate_job(data, strict=True)
        return "job"
    validate_testdef(data)
    return "test definition"


def check_cases(path):
    n = 0
    for line in open(path, encoding="utf-8"):
        words = shlex.split(line)
        if not words:
            continue
        if words[0] != "lava-test-case" or len(words) < 2:
            raise Invalid(f"not a lava-test-case line: {line.strip()}")
        case = {"name": words[1]}
        rest = words[2:]
        for flag, value in zip(rest[::2], rest[1::2]):
            if not flag.startswith("--"):
                raise Invalid(f"bad argument {flag!r} in: {line.strip()}")
            case[flag[2:]] = value
        if ("measurement" in case) != ("units" in case):
            raise Invalid(f"a measurement needs its units: {line.strip()}")
        CASE(case)
        n += 1
    if n == 0:
        raise Invalid("no lava-test-case lines")
    return f"{n} lava-test-case lines"


PATTERNS = []


def check_console(path):
    if not PATTERNS:
        raise Invalid("no job file with monitors given before the console log")
    hits = []
    for line in open(path, encoding="utf-8", errors="replace"):
        for p in PATTERNS:
            m = re.search(p, line)
            if m:
                d = m.groupdict()
                CASE({"name": d["test_case_id"], "result": d["result"],
                      "measurement": d["measurement"], "units": d["units"]})
                hits.append(d["test_case_id"])
    if not hits:
        raise Invalid("no line matches the monitors' patterns")
    return "monitors read " + ", ".join(hits)


def main(argv):
    expect = []
    kind = "valid"
    negate = False
    for a in argv:
        if a == "--invalid":
            negate = True
            continue
        if a in ("--lava-cases", "--console"):
            kind = a
            continue
        expect.append((a, kind, negate))
        kind, negate = "valid", False
    if not expect:
        print(__doc__)
        return 2
    ok = True
    for path, kind, negate in expect:
        try:
            if kind == "--lava-cases":
                what = check_cases(path)
            elif kind == "--console":
                what = check_console(path)
            else:
                what = check_yaml(path)
                if what == "job":
                    for action in load(path).get("actions", []):
                        for m in action.get("test", {}).get("monitors", []):
                            PATTERNS.append(m["pattern"])
            valid, why = True, what
        except (Invalid, MultipleInvalid, yaml.YAMLError, jinja2.TemplateError, OSError) as e:
            valid, why = False, str(e)
        wanted = not negate
        good = valid == wanted
        ok &= good
        state = "valid" if valid else "invalid"
        print(f"{'ok  ' if good else 'FAIL'} {path}: {state} ({why})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
