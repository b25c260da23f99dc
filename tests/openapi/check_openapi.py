"""Checks a running serve's /openapi.json with openapi-spec-validator (the OpenAPI project's
schemas, independent of the Rust code that wrote the document), and that /docs is an HTML page
showing every documented operation. Usage: check_openapi.py BASE_URL"""
import json
import sys
import urllib.request

from openapi_spec_validator import validate

base = sys.argv[1]
with urllib.request.urlopen(base + "/openapi.json", timeout=10) as r:
    ctype = r.headers["Content-Type"]
    doc = json.load(r)
assert ctype == "application/json", ctype
validate(doc)  # raises on any violation of the OpenAPI 3.1 schema

methods = {"get", "put", "post", "delete", "patch"}
ops = [(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in methods]
for want in ("/v1/openapi/order/redPacket", "/pay/sendApiRedPack", "/admin/v1/orders", "/metrics"):
    assert want in doc["paths"], f"{want} is not in the document"
for m, p in ops:
    op = doc["paths"][p][m.lower()]
    assert op.get("summary") and op.get("operationId") and op.get("tags"), f"{m} {p} lacks a summary, id or tag"
    assert any(c.startswith("2") for c in op["responses"]), f"{m} {p} has no success answer"

with urllib.request.urlopen(base + "/docs", timeout=10) as r:
    ctype = r.headers["Content-Type"]
    page = r.read().decode("utf-8")
assert ctype == "text/html; charset=utf-8", ctype
missing = [f"{m} {p}" for m, p in ops if f"<code>{p}</code>" not in page]
if missing:
    sys.exit(f"/docs lacks {missing}")
print(f"/openapi.json valid OpenAPI {doc['openapi']}: {len(doc['paths'])} paths, {len(ops)} operations; /docs shows them all")
