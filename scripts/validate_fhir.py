#!/usr/bin/env python3
"""Validate PAS bundles against FHIR R4 structure with an external validator (fhir.resources 8.x).

Usage: python3 scripts/validate_fhir.py DIR [DIR_OR_FILE ...]

Every *.json file in DIR (not recursive) is read as one Bundle and validated against the base
resource models. Prints one line per file, "OK <file>" or "FAIL <file>: <errors>", then
"N passed, M failed". Exits 1 when any file failed, 2 on a usage error.

Needs `fhir.resources` 8.x (tested with 8.3.0):
    python3 -m venv /tmp/fhirvenv && /tmp/fhirvenv/bin/pip install fhir.resources==8.3.0
The models are imported from fhir.resources.R4B: PAS is FHIR 4.0.1, and the package's default
(R5) models reject R4 JSON. There is no R4 package; R4B differs from R4 only in modules PAS does
not use. The structural check covers elements, types and cardinalities of the base resources,
not profiles, bindings or invariants. The Da Vinci PAS rules on top of it (the Claim or the
ClaimResponse first, slices, code systems, references that resolve...) are Rust tests over every
bundle the worker and the payer simulator write: src/payer/sim/pas/bundle_rules.rs.

Messages name elements and codes, never values from the bundle (they may be patient data).
"""

import json
import sys
from pathlib import Path

try:
    from fhir.resources.R4B.bundle import Bundle
except ImportError:  # pragma: no cover - environment problem, not a validation result
    sys.stderr.write(
        "fhir.resources is not installed: pip install fhir.resources==8.3.0\n"
    )
    sys.exit(2)


def structural(obj):
    """R4B model validation; errors as element paths and messages, without input values."""
    try:
        Bundle.model_validate(obj)
    except Exception as e:  # pydantic ValidationError, or KeyError on an unknown resourceType
        errs = getattr(e, "errors", None)
        if callable(errs):
            try:
                items = errs(include_input=False, include_url=False)
            except TypeError:
                items = errs()
            out = []
            for item in items[:10]:
                loc = ".".join(str(p) for p in item.get("loc", ()))
                out.append(f"R4B {loc}: {item.get('msg', 'invalid')}")
            if len(items) > 10:
                out.append(f"R4B: {len(items) - 10} more structural errors")
            return out
        return [f"R4B: {type(e).__name__} while parsing (unknown resource type?)"]
    return []


def validate(path):
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return [f"not readable as JSON ({type(e).__name__})"]
    if not isinstance(obj, dict) or obj.get("resourceType") != "Bundle":
        return ["not a Bundle"]
    return structural(obj)


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    files = []
    for arg in argv[1:]:
        p = Path(arg)
        if p.is_dir():
            files.extend(sorted(p.glob("*.json")))
        elif p.is_file():
            files.append(p)
        else:
            sys.stderr.write(f"{arg}: no such file or directory\n")
            return 2
    if not files:
        sys.stderr.write("no *.json files to validate\n")
        return 2
    passed = failed = 0
    for f in files:
        errors = validate(f)
        if errors:
            failed += 1
            print(f"FAIL {f}: " + "; ".join(errors))
        else:
            passed += 1
            print(f"OK {f}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
