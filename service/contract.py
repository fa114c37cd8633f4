"""The facts about the service that the container, the templates and the tests all rely on.

This is the one place they live: the Dockerfile check, the task definition, the target group,
the health checks and the tests read them from here.
"""

from __future__ import annotations

PORT = 8448
HEALTH_PATH = "/_health"
CONTAINER_NAME = "web"
# The ASGI application as uvicorn names it, the same in the Dockerfile's CMD and `make run`.
APP_MODULE = "service.app:app"
