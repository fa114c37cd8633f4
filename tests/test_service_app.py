"""The app through Starlette's TestClient: health, page, access log, metrics, no leaks."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from service.app import ServiceApp, create_app
from service.contract import HEALTH_PATH, METRICS_NAMESPACE
from service.jsonlog import JsonLines
from service.settings import UNKNOWN_VERSION, load_settings

SECRET = "hunter2-s3cr3t-value-9f8e7d"
ENVIRON = {
    "APP_VERSION": "abc1234",
    "STATIC_URL": "https://assets.example.com/scalable-app/",
    "SERVICE_NAME": "scalable-app-test",
    "DATABASE_PASSWORD": SECRET,
    "AWS_SECRET_ACCESS_KEY": SECRET,
}


def make_client(environ: dict[str, str] = ENVIRON) -> tuple[TestClient, io.StringIO]:
    out = io.StringIO()
    app = create_app(load_settings(environ), lines=JsonLines(out))
    return TestClient(app), out


def log_lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_health_body_is_status_version_uptime_only() -> None:
    client, _ = make_client()
    with client:
        response = client.get(HEALTH_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"status", "version", "uptime"}
    assert body["status"] == "ok"
    assert body["version"] == "abc1234"
    assert isinstance(body["uptime"], float)
    assert 0 <= body["uptime"] < 60


def test_health_through_the_router_matches_the_fast_path() -> None:
    client, _ = make_client()
    app = client.app
    assert isinstance(app, ServiceApp)
    with client:
        fast = client.get(HEALTH_PATH).json()
        # Starlette.__call__ is what the fast path skips; the routed answer must be the same.
        routed = TestClient(super(ServiceApp, app).__call__).get(HEALTH_PATH).json()
    assert set(fast) == set(routed)
    assert (fast["status"], fast["version"]) == (routed["status"], routed["version"])


def test_health_rejects_other_methods() -> None:
    client, _ = make_client()
    assert client.post(HEALTH_PATH).status_code == 405


@pytest.mark.parametrize(
    ("environ", "version"),
    [
        ({"GIT_REVISION": "deadbee"}, "deadbee"),
        ({"APP_VERSION": "1.2.3", "GIT_REVISION": "deadbee"}, "1.2.3"),
        ({}, UNKNOWN_VERSION),
        # Something that is not a plain revision is not shown, whatever it is.
        ({"APP_VERSION": f"password={SECRET}"}, UNKNOWN_VERSION),
        ({"APP_VERSION": "x" * 65}, UNKNOWN_VERSION),
    ],
)
def test_version_comes_from_the_environment_if_plain(environ: dict[str, str], version: str) -> None:
    client, _ = make_client(environ)
    assert client.get(HEALTH_PATH).json()["version"] == version


def test_home_page_links_the_static_asset_through_static_url() -> None:
    client, _ = make_client()
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'src="https://assets.example.com/scalable-app/logo.svg"' in response.text


def test_local_static_asset_is_served() -> None:
    client, _ = make_client({})
    page = client.get("/").text
    assert 'src="/static/logo.svg"' in page
    asset = client.get("/static/logo.svg")
    assert asset.status_code == 200
    assert asset.headers["content-type"] == "image/svg+xml"


def test_no_response_reveals_env_values_or_header_values() -> None:
    client, _ = make_client()
    echo = "x-echo-me-3c2b1a"
    headers = {"X-Api-Key": echo, "Authorization": f"Bearer {echo}", "Cookie": f"session={echo}"}
    with client:
        responses = [
            client.get(path, headers=headers)
            for path in (HEALTH_PATH, "/", "/static/logo.svg", "/nope", f"/?q={SECRET}")
        ]
        responses.append(client.post(HEALTH_PATH, headers=headers))
    for response in responses:
        exposed = response.text + json.dumps(dict(response.headers))
        assert SECRET not in exposed, response.request.url
        assert echo not in exposed, response.request.url


def test_access_log_has_one_json_line_per_request_except_health() -> None:
    client, out = make_client()
    client.get(HEALTH_PATH)
    client.get("/")
    client.get(HEALTH_PATH)
    client.get("/missing")
    lines = log_lines(out)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/", 200),
        ("GET", "/missing", 404),
    ]
    for line in lines:
        assert isinstance(line["duration_ms"], float)
        assert line["duration_ms"] >= 0
        assert line["logger"] == "service.access"
        assert line["time"].endswith("Z")


def test_other_methods_on_the_health_path_are_logged_health_checks_are_not() -> None:
    client, out = make_client()
    client.get(HEALTH_PATH)
    client.head(HEALTH_PATH)
    assert out.getvalue() == ""  # answered before the middleware: no line
    assert client.post(HEALTH_PATH).status_code == 405
    lines = log_lines(out)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", HEALTH_PATH, 405)
    ]


def test_access_lines_are_valid_emf_with_bounded_route_dimension() -> None:
    client, out = make_client()
    client.get("/")
    client.get("/static/logo.svg")
    client.get("/no/such/page/12345")
    lines = log_lines(out)
    assert [line["Route"] for line in lines] == ["/", "/static", "unmatched"]
    for line in lines:
        assert_valid_emf(line)
        directive = line["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == METRICS_NAMESPACE
        assert directive["Dimensions"] == [["Service", "Route"]]
        units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
        assert units == {"Requests": "Count", "Latency": "Milliseconds", "ServerErrors": "Count"}
        assert line["Service"] == "scalable-app-test"
        assert line["Requests"] == 1
        assert line["Latency"] == line["duration_ms"]
        assert line["ServerErrors"] == 0


def test_a_crash_is_logged_and_counted_as_a_server_error() -> None:
    from starlette.routing import Route

    async def boom(request: object) -> None:
        raise RuntimeError("boom")

    out = io.StringIO()
    app = create_app(load_settings({}), lines=JsonLines(out), extra_routes=[Route("/boom", boom)])
    response = TestClient(app, raise_server_exceptions=False).get("/boom")
    assert response.status_code == 500
    assert "boom" not in response.text
    (line,) = log_lines(out)
    assert (line["status"], line["Route"], line["ServerErrors"]) == (500, "/boom", 1)


def assert_valid_emf(document: dict[str, Any]) -> None:
    """The rules of the EMF specification that CloudWatch Logs enforces."""
    aws = document["_aws"]
    assert isinstance(aws["Timestamp"], int)
    assert aws["Timestamp"] > 1_600_000_000_000  # milliseconds since the epoch
    directives = aws["CloudWatchMetrics"]
    assert isinstance(directives, list)
    assert directives
    for directive in directives:
        assert isinstance(directive["Namespace"], str)
        assert 1 <= len(directive["Namespace"]) <= 255
        for dimension_set in directive["Dimensions"]:
            assert 1 <= len(dimension_set) <= 30
            for name in dimension_set:
                assert isinstance(document[name], str), f"dimension {name} must be a string"
        assert 1 <= len(directive["Metrics"]) <= 100
        for metric in directive["Metrics"]:
            assert metric["Unit"] in {"Count", "Milliseconds", "Seconds", "None"}
            value = document[metric["Name"]]
            assert isinstance(value, int | float)
            assert not isinstance(value, bool)
