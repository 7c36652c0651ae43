"""A synchronous client of one party's flow REST API, shared by the CLI and the SDK.

The URL is the one given, else ``SILOBRIDGE_FLOW_URL``, else http://127.0.0.1:9380; the token
is found as :func:`silobridge.client.credentials.resolve` says. An API error becomes the
:mod:`silobridge.errors` type of its HTTP status, with the API's own message.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx

from silobridge.client import credentials
from silobridge.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PermanentError,
    PermissionDenied,
    RequestTimeout,
    RetryableError,
    SilobridgeError,
    Unauthenticated,
)

DEFAULT_FLOW_URL = "http://127.0.0.1:9380"
URL_ENV = "SILOBRIDGE_FLOW_URL"
FINAL_STATES = ("SUCCEEDED", "FAILED", "STOPPED", "REFUSED")

_BY_STATUS: dict[int, type[SilobridgeError]] = {
    400: InvalidInput,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    504: RequestTimeout,
}


class FlowUnreachable(RetryableError):
    """No HTTP answer from flow (refused, reset, DNS, TLS)."""

    code = "flow_unreachable"


def flow_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    return str(url or env.get(URL_ENV) or DEFAULT_FLOW_URL).rstrip("/")


class FlowClient:
    """One flow, one credential; each call is one request (no connection kept between calls)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        token_file: Path | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self.url = flow_url(url)
        self._token = token
        self._token_file = token_file
        self.timeout_s = timeout_s

    def headers(self) -> dict[str, str]:
        secret = credentials.resolve(self.url, token=self._token, token_file=self._token_file)
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; an error answer raises (see the module docstring), a success is returned."""
        kwargs["headers"] = {**self.headers(), **kwargs.get("headers", {})}
        try:
            with httpx.Client(base_url=self.url, timeout=self.timeout_s) as client:
                response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise FlowUnreachable(f"cannot reach flow at {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise _error_of(response)
        return response

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request whose answer is JSON (``None`` when it is not)."""
        response = self.send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            return None

    # ----- jobs ---------------------------------------------------------------------------

    def submit_job(self, job_yaml: str | bytes) -> str:
        body = job_yaml.encode("utf-8") if isinstance(job_yaml, str) else job_yaml
        out = self.request("POST", "/v1/jobs", content=body, headers={"content-type": "application/yaml"})
        return str(out["job_id"])

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/v1/jobs/{job_id}"))

    def wait_job(
        self,
        job_id: str,
        *,
        timeout_s: float = 3600.0,
        poll_s: float = 1.0,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job ends; ``on_update`` sees every detail read. Returns the last one."""
        deadline = time.monotonic() + timeout_s
        while True:
            detail = self.job(job_id)
            if on_update is not None:
                on_update(detail)
            if detail["state"] in FINAL_STATES:
                return detail
            if time.monotonic() > deadline:
                raise RequestTimeout(
                    f"job {job_id} not finished in {timeout_s:g} s (state {detail['state']})"
                )
            time.sleep(poll_s)

    def task_metrics(self, job_id: str, task: str) -> dict[str, list[dict[str, float]]]:
        """Metric series (``{name: [{step, value, ...}]}``) this party's run of ``task`` logged."""
        out = self.request("GET", f"/v1/jobs/{job_id}/tasks/{task}/metrics")
        return dict(out.get("metrics", {}))

    def models(self, job_id: str) -> list[dict[str, Any]]:
        """This party's models of the job (task, size, created)."""
        return list(self.request("GET", f"/v1/jobs/{job_id}/models")["models"])

    def model_bytes(self, job_id: str, task: str) -> bytes:
        """One model as serialised ``silobridge.federation.v1.Value``."""
        return self.send("GET", f"/v1/jobs/{job_id}/models/{task}").content


def _error_of(response: httpx.Response) -> SilobridgeError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        message = str(body["error"].get("message", response.reason_phrase))
    else:
        message = f"flow answered {response.status_code} {response.reason_phrase}"
    kind = _BY_STATUS.get(response.status_code)
    if kind is None:
        kind = RetryableError if response.status_code >= 500 else PermanentError
    error = kind(message)
    error.http_status = response.status_code
    return error
