"""Schemathesis over the whole OpenAPI schema, in process (WSGI), as part of the normal test run.

Authenticated as an organization admin (a token) over a world with an object of every API model in every
tenant, every operation gets valid (positive) and invalid (negative) generated requests. No request may
answer a server error (5xx), every JSON answer must match its documented schema, and the same requests
without or with invalid credentials must answer 401/403 (ignored_auth). Failures are collected
per operation and reported together, each with a curl command that reproduces it.

Settings: `SCHEMATHESIS_MAX_EXAMPLES` (default 10 per operation, mode and id choice).
"""
from __future__ import annotations

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth, response_schema_conformance

import tests.specs_registry  # noqa: F401  (every app's specs)
from tests.api_specs import SPECS
from tests.factories import make_token

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "10"))
CHECKS = [not_a_server_error, response_schema_conformance, ignored_auth]


@pytest.fixture
def in_process_requests():
    """WSGI calls in the test's thread share its transaction: don't let request signals close the connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _populate(world) -> dict[str, str]:
    """An object of every API model in every tenant; returns {path template: an in-scope id} for details."""
    import portal.urls  # noqa: F401  (registers every viewset)
    from portal.api.router import router
    from webhooks.alert_push import receiver_rotate

    made = {model: [spec.make(tenant) for tenant in world.tenants] for model, spec in SPECS.items()}
    known = {}
    for prefix, viewset, _basename in router.registry:
        objects = made.get(viewset.queryset.model)
        if objects:
            known[f"/api/v1/{prefix}/{{id}}/"] = str(objects[0].pk)
    _receiver, token, _secret = receiver_rotate(tenant=world.tenants[0])
    known["/hooks/ncm/{token}/"] = token
    return known


def _openapi() -> dict:
    """The schema as /api/schema/?format=json serves it (built here: no request, so no signal juggling)."""
    import json

    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def _describe(operation, mode, case, response, exc, caplog) -> str:
    import traceback

    lines = [line for line in str(exc).strip().splitlines() if line.strip()][:8]
    text = f"{operation.label} [{mode.value}] -> {response.status_code}: " + " | ".join(lines)[:700]
    errors = [r for r in caplog.records if r.exc_info]
    if errors and response.status_code >= 500:
        text += "\n" + "".join(traceback.format_exception(*errors[-1].exc_info))[-1200:]
    try:
        text += "\n    " + case.as_curl_command()[:500]
    except Exception:  # noqa: BLE001
        pass
    return text


def _operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


@pytest.mark.xdist_group("schemathesis")
@pytest.mark.timeout(900)  # one test walking every operation: its time grows with the API (about 330 s on a loaded CI box)
@pytest.mark.django_db
def test_schemathesis_no_server_errors(world, in_process_requests, caplog):
    from portal.wsgi import application

    known = _populate(world)
    admin = world.actor("admin", "org", 0).user
    schema = schemathesis.openapi.from_dict(_openapi())
    schema.app = application

    token = make_token(admin)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    seen = 0
    for operation in _operations(schema):
        seen += 1
        # Random ids (mostly 404), then the same with an existing in-scope object (the detail's real work).
        runs = [(mode, None) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
        template = next((t for t in known if operation.path.startswith(t.split("{")[0]) and
                         operation.path.count("{") == 1), None)
        if template and "{" in operation.path:
            name = operation.path.split("{")[1].split("}")[0]
            runs += [(mode, {name: known[template]}) for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)]
        for mode, path_parameters in runs:
            failed: list[str] = []

            @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
            @settings(
                max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
            )
            def run(case):
                if failed:
                    return  # one failure per operation and mode is enough
                headers = {"Authorization": f"Token {token}"}
                caplog.clear()
                # Each example in its own savepoint, rolled back: examples stay independent, and a request
                # whose statement failed in the database does not poison the rest of the run.
                with transaction.atomic():
                    with transaction.atomic():
                        response = case.call(headers=headers)
                        transaction.set_rollback(True)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    try:
                        # (ignored_auth sends its unauthenticated variants here too: their failed sign-ins
                        # are rolled back with the rest, so the lockout never trips across examples.)
                        case.validate_response(response, checks=CHECKS, headers=headers)
                    except BaseException as exc:  # noqa: BLE001 - collected, reported below
                        failed.append(_describe(operation, mode, case, response, exc, caplog))
                    transaction.set_rollback(True)

            try:
                run()
            except Unsatisfiable:
                pass  # negative mode with every parameter pinned: nothing left to make invalid
            failures.extend(failed)
    print(f"schemathesis: {seen} operations, responses by status: {dict(sorted(statuses.items()))}")
    assert seen >= 40, f"only {seen} operations in the schema"
    assert not failures, f"{len(failures)} failing operation(s):\n" + "\n".join(failures)
