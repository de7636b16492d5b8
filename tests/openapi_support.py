"""Call the API and check each answer against the OpenAPI document the app publishes."""
from __future__ import annotations

from jsonschema import Draft202012Validator


class Checker:
    """Validate responses against the operation's documented response schema."""

    def __init__(self, client, headers):
        self.client = client
        self.headers = headers
        self.document = client.get("/api/v1/openapi.json").get_json()
        self.seen: set[tuple[str, str, int]] = set()

    def call(self, method: str, template: str, url: str, body=None, headers=None):
        response = getattr(self.client, method)(f"/api/v1{url}", json=body,
                                                headers=self.headers if headers is None else headers)
        operation = self.document["paths"][template][method]
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, f"{method.upper()} {template} answered undocumented {response.status_code}: " \
                                       f"{response.get_data(as_text=True)[:300]}"
        content = documented.get("content", {})
        assert not content or response.mimetype in content, (method, template, response.mimetype, list(content))
        media = content.get(response.mimetype)
        if media is not None:
            schema = {**media["schema"], "components": self.document["components"]}
            errors = list(Draft202012Validator(schema).iter_errors(response.get_json()))
            assert errors == [], f"{method.upper()} {template} {response.status_code}: {errors[0].message}"
        self.seen.add((method, template, response.status_code))
        return response
