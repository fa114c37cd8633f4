"""One botocore session per run; each client created once, on first use.

Credentials, endpoint and profile come only from the standard resolution that boto3 uses
(it is botocore's: AWS_PROFILE, AWS_ENDPOINT_URL, ...). The region is the manifest's. Retries
are botocore's `adaptive` mode (standard retries plus client-side rate limiting), not
hand-written loops. botocore directly, not boto3: importing boto3 also imports s3transfer,
about 0.15 s of a deploy that takes well under a second when nothing changes. A run creates
only the clients it calls (a first client costs ~0.1 s of model loading, each further one
~0.02 s): CloudFormation always; ECR, S3, STS, ELBv2... only where a stack needs them.
"""

from __future__ import annotations

import threading
from typing import Any

RETRIES = {"mode": "adaptive", "max_attempts": 8}


class Aws:
    def __init__(self, region: str) -> None:
        self.region = region
        self._session: Any = None
        self._clients: dict[str, Any] = {}
        # Stacks are applied from several threads: a botocore client is thread-safe, making
        # one from the shared session is not.
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """The botocore session: its credentials are those every client signs with."""
        if self._session is None:
            import botocore.session  # lazily: `deploy.py --help` should not pay for it

            self._session = botocore.session.get_session()
        return self._session

    def client(self, service: str) -> Any:
        with self._lock:
            return self._client(service)

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            from botocore.config import Config

            config = Config(retries=RETRIES, connect_timeout=10, read_timeout=60)
            self._clients[service] = self.session.create_client(
                service, region_name=self.region, config=config
            )
        return self._clients[service]

    @property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")
