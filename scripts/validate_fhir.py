#!/usr/bin/env python3
"""Validate Da Vinci PAS bundles: FHIR R4B structure (fhir.resources 8.x) plus PAS rules.

Usage: python3 scripts/validate_fhir.py DIR [DIR_OR_FILE ...]

Every *.json file in DIR (not recursive) is read as one Bundle. A request bundle (Claim first)
gets the request rules; a response bundle (profile *response-bundle, or a ClaimResponse first)
gets the response rules. Prints one line per file, "OK <file>" or "FAIL <file>: <errors>" (either
with "(warnings: ...)" appended when there are any), then
"N passed, M failed". Exits 1 when any file failed, 2 on a usage error.

Needs `fhir.resources` 8.x (tested with 8.3.0):
    python3 -m venv /tmp/fhirvenv && /tmp/fhirvenv/bin/pip install fhir.resources==8.3.0
The models are imported from fhir.resources.R4B: PAS is FHIR 4.0.1, and the package's default
(R5) models reject R4 JSON. There is no R4 package; R4B differs from R4 only in modules PAS does
not use. The structural check covers elements, types and cardinalities of the base resources,
not profiles, bindings or invariants: the PAS rules below cover what the worker must get right.

Messages name elements and codes, never values from the bundle (they may be patient data).
"""

import json
import re
import sys
from pathlib import Path

try:
    from fhir.resources.R4B.bundle import Bundle
except ImportError:  # pragma: no cover - environment problem, not a validation result
    sys.stderr.write(
        "fhir.resources is not installed: pip install fhir.resources==8.3.0\n"
    )
    sys.exit(2)

PAS_SD = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
EXT_SERVICE_ITEM_REQUEST_TYPE = PAS_SD + "extension-serviceItemRequestType"
EXT_CERTIFICATION_TYPE = PAS_SD + "extension-certificationType"
EXT_CARE_TEAM_CLAIM_SCOPE = PAS_SD + "extension-careTeamClaimScope"
EXT_DOCUMENT_INFORMATION = PAS_SD + "extension-documentInformation"
EXT_REVIEW_ACTION = PAS_SD + "extension-reviewAction"
EXT_REVIEW_ACTION_CODE = PAS_SD + "extension-reviewActionCode"

PAS_TEMP_CODES = "http://hl7.org/fhir/us/davinci-pas/CodeSystem/PASTempCodes"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI = "http://hl7.org/fhir/sid/us-npi"
POS = "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
LOINC = "http://loinc.org"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
PROCESS_PRIORITY = "http://terminology.hl7.org/CodeSystem/processpriority"
SUBSCRIBER_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/subscriber-relationship"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
X12_98 = "https://codesystem.x12.org/005010/98"
X12_306 = "https://codesystem.x12.org/005010/306"
X12_755 = "https://codesystem.x12.org/005010/755"
X12_1069 = "https://codesystem.x12.org/005010/1069"
X12_1322 = "https://codesystem.x12.org/005010/1322"
X12_1365 = "https://codesystem.x12.org/005010/1365"
X12_1525 = "https://codesystem.x12.org/005010/1525"

CLAIM_TYPES = {"institutional", "professional", "oral"}
PRIORITIES = {"stat", "normal", "deferred"}
# Slices of Claim.supportingInfo (PAS 2.x) and the codes of PASSupportingInfoType.
SUPPORTING_INFO_CATEGORIES = {
    "patientEvent",
    "admissionDates",
    "dischargeDates",
    "additionalInformation",
    "freeFormMessage",
    "admissionReview",
    "institutionalEncounter",
}
OUTCOMES = {"complete", "error", "partial"}
ICD10CM_DOTTED = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def as_list(v):
    return v if isinstance(v, list) else []


def as_dict(v):
    return v if isinstance(v, dict) else {}


def codings(concept):
    return [c for c in as_list(as_dict(concept).get("coding")) if isinstance(c, dict)]


def systems(concept):
    return {c.get("system") for c in codings(concept)}


def codes(concept, system=None):
    return {
        c.get("code")
        for c in codings(concept)
        if system is None or c.get("system") == system
    }


def extensions(element, url):
    return [
        e
        for e in as_list(as_dict(element).get("extension"))
        if isinstance(e, dict) and e.get("url") == url
    ]


def npi_ok(value):
    """10 digits whose last is the Luhn check digit over 80840 + the first nine."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{10}", value):
        return False
    total = 24  # the 80840 prefix, doubled the same way
    for i, ch in enumerate(reversed(value[:9])):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(value[9])


def references(node, out):
    """Every Reference.reference string anywhere under node."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            else:
                references(v, out)
    elif isinstance(node, list):
        for v in node:
            references(v, out)


def unique_sequences(elements, key, where, errors):
    seqs = [as_dict(e).get(key) for e in as_list(elements)]
    if any(not isinstance(s, int) or isinstance(s, bool) or s < 1 for s in seqs):
        errors.append(f"{where}: every {key} must be a positive integer")
    present = [s for s in seqs if isinstance(s, int)]
    if len(set(present)) != len(present):
        errors.append(f"{where}: {key} values repeat")


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


def bundle_rules(obj, errors):
    """Rules every PAS bundle follows; returns fullUrl -> resource."""
    if obj.get("type") != "collection":
        errors.append("Bundle.type must be collection")
    if not isinstance(obj.get("identifier"), dict):
        errors.append("Bundle.identifier is required")
    if not obj.get("timestamp"):
        errors.append("Bundle.timestamp is required")
    entries = as_list(obj.get("entry"))
    if not entries:
        errors.append("Bundle.entry is empty")
    resources = {}
    for i, e in enumerate(entries):
        e = as_dict(e)
        url = e.get("fullUrl")
        if not isinstance(url, str) or not url:
            errors.append(f"entry[{i}] has no fullUrl")
            continue
        if url in resources:
            errors.append(f"entry[{i}] repeats a fullUrl")
        resources[url] = as_dict(e.get("resource"))
        for k in ("request", "response", "search"):
            if k in e:
                errors.append(f"entry[{i}].{k} is not allowed in a PAS bundle")
    refs = []
    references(obj, refs)
    for r in refs:
        if r.startswith("urn:uuid:") and r not in resources:
            errors.append(f"reference {r} resolves to no entry")
    return resources


def request_rules(obj, errors, warnings):
    resources = bundle_rules(obj, errors)
    entries = as_list(obj.get("entry"))
    claim = as_dict(as_dict(entries[0]).get("resource")) if entries else {}
    if claim.get("resourceType") != "Claim":
        errors.append("the first entry must be the Claim")
        return
    claims = [r for r in resources.values() if r.get("resourceType") == "Claim"]
    if len(claims) > 2:
        errors.append("at most two Claims (a Claim Update and the prior Claim)")

    def resolve(ref):
        return resources.get(as_dict(ref).get("reference"), {})

    if claim.get("use") != "preauthorization":
        errors.append("Claim.use must be preauthorization")
    if claim.get("status") != "active":
        errors.append("Claim.status must be active")
    if systems(claim.get("type")) != {CLAIM_TYPE} or not codes(claim.get("type")) <= CLAIM_TYPES:
        errors.append("Claim.type must be a claim-type code (institutional, professional, oral)")
    if claim.get("priority") is not None and (
        systems(claim.get("priority")) != {PROCESS_PRIORITY}
        or not codes(claim.get("priority")) <= PRIORITIES
    ):
        errors.append("Claim.priority must be a processpriority code")
    ids = [as_dict(i) for i in as_list(claim.get("identifier"))]
    if not any(str(i.get("system", "")).startswith("urn:trnorg:") and i.get("value") for i in ids):
        errors.append("Claim.identifier needs a system urn:trnorg:<TRN03> and a value")

    # Parties.
    patient = resolve(claim.get("patient"))
    if patient.get("resourceType") != "Patient":
        errors.append("Claim.patient must reference a Patient entry")
    insurer = resolve(claim.get("insurer"))
    if insurer.get("resourceType") != "Organization":
        errors.append("Claim.insurer must reference an Organization entry")
    elif not any("PR" in codes(t, X12_98) for t in as_list(insurer.get("type"))):
        errors.append("the insurer Organization needs type PR (X12 98)")
    provider = resolve(claim.get("provider"))
    if provider.get("resourceType") not in ("Organization", "PractitionerRole"):
        errors.append("Claim.provider must reference an Organization or PractitionerRole entry")
    # A warning, not an error: the IG's own examples use made-up NPIs that fail the check.
    for url, r in resources.items():
        for j, ident in enumerate(as_list(r.get("identifier"))):
            ident = as_dict(ident)
            if ident.get("system") == NPI and not npi_ok(ident.get("value")):
                warnings.append(f"{r.get('resourceType')}.identifier[{j}]: NPI fails its check digit")

    # Care team.
    care_team = as_list(claim.get("careTeam"))
    for i, ct in enumerate(care_team):
        scope = extensions(ct, EXT_CARE_TEAM_CLAIM_SCOPE)
        if len(scope) != 1 or not isinstance(scope[0].get("valueBoolean"), bool):
            errors.append(f"careTeam[{i}] needs one careTeamClaimScope extension (valueBoolean)")
    unique_sequences(care_team, "sequence", "careTeam", errors)

    # Insurance and coverage.
    insurance = as_list(claim.get("insurance"))
    focal = [i for i in insurance if as_dict(i).get("focal") is True]
    if len(focal) != 1:
        errors.append("Claim.insurance needs exactly one focal entry")
    for i, ins in enumerate(insurance):
        cov = resolve(as_dict(ins).get("coverage"))
        if cov.get("resourceType") != "Coverage":
            errors.append(f"insurance[{i}].coverage must reference a Coverage entry")
            continue
        if not any("MB" in codes(as_dict(x).get("type"), V2_0203) for x in as_list(cov.get("identifier"))):
            errors.append(f"insurance[{i}]: the Coverage needs a member id identifier (type MB)")
        rel = cov.get("relationship")
        if not codes(rel, SUBSCRIBER_RELATIONSHIP) or not codes(rel, X12_1069):
            errors.append(
                f"insurance[{i}]: Coverage.relationship needs subscriber-relationship and X12 1069 codings"
            )
    if patient and not any("MB" in codes(as_dict(x).get("type"), V2_0203) for x in as_list(patient.get("identifier"))):
        errors.append("the Patient needs a member id identifier (type MB)")

    # Diagnoses.
    diagnoses = as_list(claim.get("diagnosis"))
    unique_sequences(diagnoses, "sequence", "diagnosis", errors)
    for i, dx in enumerate(diagnoses):
        concept = as_dict(dx).get("diagnosisCodeableConcept")
        if systems(concept) != {ICD10CM}:
            errors.append(f"diagnosis[{i}] must be coded in ICD-10-CM ({ICD10CM})")
        elif not all(isinstance(c, str) and ICD10CM_DOTTED.match(c) for c in codes(concept)):
            errors.append(f"diagnosis[{i}]: ICD-10-CM code must be written with its dot")

    # Supporting information.
    info = as_list(claim.get("supportingInfo"))
    unique_sequences(info, "sequence", "supportingInfo", errors)
    for i, si in enumerate(info):
        si = as_dict(si)
        cats = codes(si.get("category"), PAS_TEMP_CODES)
        if systems(si.get("category")) != {PAS_TEMP_CODES} or len(cats) != 1 or not cats <= SUPPORTING_INFO_CATEGORIES:
            errors.append(f"supportingInfo[{i}].category must be one PASTempCodes slice code")
            continue
        cat = next(iter(cats))
        if cat == "additionalInformation":
            docinfo = extensions(si, EXT_DOCUMENT_INFORMATION)
            report = [x for d in docinfo for x in extensions(d, "reportTypeCode")]
            if len(docinfo) != 1 or len(report) != 1 or not codes(report[0].get("valueCodeableConcept"), X12_755):
                errors.append(
                    f"supportingInfo[{i}] needs one documentInformation extension with an X12 755 reportTypeCode"
                )
            doc = resolve(si.get("valueReference"))
            if not doc:
                errors.append(f"supportingInfo[{i}].valueReference must reference an entry")
            elif doc.get("resourceType") == "DocumentReference":
                if systems(doc.get("type")) != {LOINC}:
                    errors.append(f"supportingInfo[{i}]: the DocumentReference type must be LOINC")
                for k, c in enumerate(as_list(doc.get("content"))):
                    att = as_dict(as_dict(c).get("attachment"))
                    if "data" in att and not att.get("contentType"):
                        errors.append(f"supportingInfo[{i}]: attachment {k} has data but no contentType")
                    if "data" not in att and "url" not in att:
                        errors.append(f"supportingInfo[{i}]: attachment {k} has neither data nor url")
        elif cat == "freeFormMessage":
            if not isinstance(si.get("valueString"), str) or not si.get("valueString"):
                errors.append(f"supportingInfo[{i}] (freeFormMessage) needs a valueString")

    # Items.
    items = as_list(claim.get("item"))
    if not items:
        errors.append("Claim.item is required")
    unique_sequences(items, "sequence", "item", errors)
    known = {
        "careTeamSequence": {as_dict(c).get("sequence") for c in care_team},
        "diagnosisSequence": {as_dict(d).get("sequence") for d in diagnoses},
        "informationSequence": {as_dict(s).get("sequence") for s in info},
    }
    for i, item in enumerate(items):
        item = as_dict(item)
        for url, system in ((EXT_SERVICE_ITEM_REQUEST_TYPE, X12_1525), (EXT_CERTIFICATION_TYPE, X12_1322)):
            ext = extensions(item, url)
            if len(ext) != 1 or not codes(ext[0].get("valueCodeableConcept"), system):
                name = url.rsplit("-", 1)[-1]
                errors.append(f"item[{i}] needs one {name} extension coded in {system}")
        if systems(item.get("category")) != {X12_1365}:
            errors.append(f"item[{i}].category must be coded in X12 1365")
        if not systems(item.get("productOrService")) or not systems(item.get("productOrService")) <= {CPT, HCPCS}:
            errors.append(f"item[{i}].productOrService must be coded in CPT or HCPCS")
        for k, m in enumerate(as_list(item.get("modifier"))):
            if systems(m) != {CPT}:
                errors.append(f"item[{i}].modifier[{k}] must be coded in CPT")
        if systems(item.get("locationCodeableConcept")) != {POS}:
            errors.append(f"item[{i}].locationCodeableConcept must be a CMS place-of-service code")
        if not isinstance(as_dict(item.get("quantity")).get("value"), (int, float)):
            errors.append(f"item[{i}].quantity.value is required")
        for key, valid in known.items():
            for s in as_list(item.get(key)):
                if s not in valid:
                    errors.append(f"item[{i}].{key} points to no {key[:-8]} entry")


def response_rules(obj, errors):
    resources = bundle_rules(obj, errors)
    entries = as_list(obj.get("entry"))
    cr = as_dict(as_dict(entries[0]).get("resource")) if entries else {}
    if cr.get("resourceType") != "ClaimResponse":
        errors.append("the first entry must be the ClaimResponse")
        return
    if sum(1 for r in resources.values() if r.get("resourceType") == "ClaimResponse") != 1:
        errors.append("exactly one ClaimResponse")
    if cr.get("use") != "preauthorization":
        errors.append("ClaimResponse.use must be preauthorization")
    if cr.get("status") != "active":
        errors.append("ClaimResponse.status must be active")
    if cr.get("outcome") not in OUTCOMES:
        errors.append("ClaimResponse.outcome must be complete, error or partial")
    request = as_dict(cr.get("request"))
    if not request.get("reference") and not request.get("identifier"):
        errors.append("ClaimResponse.request needs a reference or an identifier")
    items = as_list(cr.get("item"))
    unique_sequences(items, "itemSequence", "ClaimResponse.item", errors)
    if cr.get("outcome") != "error" and not items:
        errors.append("ClaimResponse.item is required unless the outcome is error")
    for i, item in enumerate(items):
        adjudications = as_list(as_dict(item).get("adjudication"))
        if not adjudications:
            errors.append(f"item[{i}] has no adjudication")
        for k, adj in enumerate(adjudications):
            if codes(as_dict(adj).get("category"), ADJUDICATION) != {"submitted"}:
                errors.append(f"item[{i}].adjudication[{k}].category must be adjudication#submitted")
        actions = [
            sub
            for adj in adjudications
            for ra in extensions(adj, EXT_REVIEW_ACTION)
            for sub in extensions(ra, EXT_REVIEW_ACTION_CODE)
        ]
        if len(actions) != 1 or not codes(actions[0].get("valueCodeableConcept"), X12_306):
            errors.append(
                f"item[{i}] needs one reviewAction with a reviewActionCode (full URL) coded in X12 306"
            )


def is_response(obj):
    profiles = as_list(as_dict(obj.get("meta")).get("profile"))
    if any(isinstance(p, str) and p.endswith("response-bundle") for p in profiles):
        return True
    entries = as_list(obj.get("entry"))
    first = as_dict(as_dict(entries[0]).get("resource")) if entries else {}
    return first.get("resourceType") == "ClaimResponse"


def validate(path):
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return [f"not readable as JSON ({type(e).__name__})"], []
    if not isinstance(obj, dict) or obj.get("resourceType") != "Bundle":
        return ["not a Bundle"], []
    errors = structural(obj)
    warnings = []
    if is_response(obj):
        response_rules(obj, errors)
    else:
        request_rules(obj, errors, warnings)
    return errors, warnings


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
        errors, warnings = validate(f)
        note = f" (warnings: {'; '.join(warnings)})" if warnings else ""
        if errors:
            failed += 1
            print(f"FAIL {f}: " + "; ".join(errors) + note)
        else:
            passed += 1
            print(f"OK {f}{note}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
