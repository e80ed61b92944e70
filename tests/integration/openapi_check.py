"""Checks the worker's REST answers against `worker/openapi.yaml`.

`check(response)` finds the operation for the request's method and path in the document, fails
if the answer's status code is not one the operation lists, and validates the body against the
schema documented for that status (a status documented without content must come with an
empty body). A path the document does not list must answer 404, a method its path does not
serve 405, both with the `Error` body, as the document's description says.

The document's schemas are OpenAPI 3.0: they are turned into JSON Schema once (`nullable`
becomes a `null` type, `$ref`s resolve through a `referencing` registry). Objects that list
their properties are closed: Kafka Connect's bodies have exactly the keys documented, so an
undocumented key is a mismatch too.

`CheckedWorker(worker)` wraps a harness `Worker` so every REST call it makes is checked.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import requests
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

DOCUMENT = Path(__file__).resolve().parents[2] / "worker" / "openapi.yaml"
# The converted components live in the registry under this URI.
BASE_URI = "urn:sluice:openapi"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def to_json_schema(schema):
    """One OpenAPI 3.0 schema object as JSON Schema 2020-12."""
    if not isinstance(schema, dict):
        return schema  # `additionalProperties: false` and the like
    out = {}
    for key, value in schema.items():
        if key == "$ref":
            out[key] = BASE_URI + value
        elif key == "properties":
            out[key] = {name: to_json_schema(s) for name, s in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_json_schema(s) for s in value]
        elif key not in ("nullable", "example"):
            out[key] = value
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if schema.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


class OpenApi:
    """The operations and schemas of one OpenAPI document."""

    def __init__(self, path: Path):
        self.path = path
        self.doc = yaml.safe_load(path.read_text())
        schemas = {name: to_json_schema(s) for name, s in self.doc["components"]["schemas"].items()}
        resource = DRAFT202012.create_resource({"components": {"schemas": schemas}})
        self.registry = Registry().with_resource(BASE_URI, resource)
        self.templates = [(template, template.strip("/").split("/")) for template in self.doc["paths"]]

    def route(self, path: str) -> str | None:
        """The path template matching `path`; literal segments win over parameters."""
        segments = [unquote(s) for s in path.strip("/").split("/")]
        best, best_literals = None, -1
        for template, parts in self.templates:
            if len(parts) != len(segments):
                continue
            if all(p.startswith("{") or p == s for p, s in zip(parts, segments)):
                literals = sum(not p.startswith("{") for p in parts)
                if literals > best_literals:
                    best, best_literals = template, literals
        return best

    def _resolve(self, node: dict) -> dict:
        while "$ref" in node:
            target = self.doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def expected(self, method: str, path: str, status: int) -> tuple[str, dict | None]:
        """(what was matched, the JSON Schema of the body or None for no body) for an answer;
        raises AssertionError when the document does not allow `status` here."""
        template = self.route(path)
        error = {"$ref": BASE_URI + "#/components/schemas/Error"}
        if template is None:
            assert status == 404, f"{method} {path} answered {status}, but {self.path.name} has no such path (expected 404)"
            return f"{method} {path} (no such path)", error
        item = self.doc["paths"][template]
        operation = item.get(method.lower())
        if operation is None:
            served = sorted(m.upper() for m in item if m in METHODS)
            assert status == 405, (
                f"{method} {path} answered {status}, but {self.path.name} serves only {served} on {template} (expected 405)"
            )
            return f"{method} {template} (method not served)", error
        where = f"{method} {template} ({operation.get('operationId', 'no operationId')})"
        responses = operation["responses"]
        assert str(status) in responses, f"{where} answered {status}; {self.path.name} documents only {sorted(responses)}"
        content = self._resolve(responses[str(status)]).get("content")
        if content is None:
            return where, None
        assert list(content) == ["application/json"], f"{where} {status}: only JSON content is checked, not {list(content)}"
        return where, to_json_schema(content["application/json"]["schema"])

    def check(self, response: requests.Response) -> requests.Response:
        request = response.request
        path = urlsplit(request.url).path
        where, schema = self.expected(request.method, path, response.status_code)
        status = response.status_code
        if schema is None:
            assert response.content == b"", f"{where} {status} is documented without a body, but answered {response.text[:500]!r}"
            return response
        media_type = response.headers.get("Content-Type", "")
        assert media_type.startswith("application/json"), (
            f"{where} {status} answered Content-Type {media_type!r}, not application/json: {response.text[:500]!r}"
        )
        try:
            body = response.json()
        except json.JSONDecodeError as e:
            raise AssertionError(f"{where} {status} answered a body that is not JSON ({e}): {response.text[:500]!r}") from None
        error = best_match(Draft202012Validator(schema, registry=self.registry).iter_errors(body))
        if error is not None:
            raise AssertionError(
                f"{where} {status}: the body does not match {self.path.name}: {error.message} "
                f"at {error.json_path} (schema {'/'.join(map(str, error.absolute_schema_path))}); "
                f"body: {json.dumps(body)[:1000]}"
            )
        return response


@functools.cache
def _document(path: Path) -> OpenApi:
    return OpenApi(path)


def check(response: requests.Response) -> requests.Response:
    """Fails unless `response` is what `worker/openapi.yaml` says its request answers; returns it."""
    return _document(DOCUMENT).check(response)


class CheckedWorker:
    """A harness `Worker` whose REST calls each have their answer checked; everything else
    (start, stop, url, log, …) is the worker's own."""

    def __init__(self, worker):
        self.worker = worker

    def __getattr__(self, name):
        return getattr(self.worker, name)

    def get(self, path: str, **kw) -> requests.Response:
        return check(self.worker.get(path, **kw))

    def post(self, path: str, body) -> requests.Response:
        return check(self.worker.post(path, body))

    def put(self, path: str, body=None) -> requests.Response:
        return check(self.worker.put(path, body))

    def patch(self, path: str, body) -> requests.Response:
        return check(requests.patch(self.worker.url + path, json=body, timeout=60))

    def delete(self, path: str) -> requests.Response:
        return check(self.worker.delete(path))

    def task_states(self, name: str) -> list[str]:
        r = self.get(f"/connectors/{name}/status")
        return [t["state"] for t in r.json()["tasks"]] if r.status_code == 200 else []
