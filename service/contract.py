"""The facts about the service that the container, the templates and the tests all rely on.

This is the one place they live: the Dockerfile check, the task definition, the target group,
the health checks and the tests read them from here.
"""

from __future__ import annotations

PORT = 8448
HEALTH_PATH = "/_health"
CONTAINER_NAME = "web"
# The numeric user:group the container runs as: the Dockerfile's USER and the task
# definition's User (tests/test_service_container.py checks the Dockerfile says the same).
# It has no entry in /etc/passwd and owns nothing in the image.
USER = "10001:10001"
# The ASGI application as uvicorn names it, the same in the Dockerfile's CMD and `make run`.
APP_MODULE = "service.app:app"
# Where the static assets live in the repository (and the image), and the path under which the
# app serves them when no CDN does; `make push` uploads the same files to the CDN's bucket.
STATIC_SOURCE = "service/static"
STATIC_PATH = "/static"
# CloudWatch namespace of the request metrics the service writes as EMF log lines
# (dimensions Service and Route; metrics Requests, Latency in ms, ServerErrors).
METRICS_NAMESPACE = "ScalableApp"
# uvicorn's --timeout-graceful-shutdown: in-flight requests get this long after SIGTERM. It stays
# below ECS's stop timeout (the container's stopTimeout, 30 s by default) so that ECS's SIGKILL
# never cuts a request short.
GRACEFUL_SHUTDOWN_SECONDS = 20
STOP_TIMEOUT_SECONDS = 30
