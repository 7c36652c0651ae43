"""The board in a real browser (Debian's chromium, driven by Playwright) during a real job.

Three in-process parties run the demo's vertical job. The host holds the proposal for approval,
so the guest's board first shows every task WAITING; the host's board approves it from its
Approvals tab; the guest's board then shows each task of the DAG change to SUCCEEDED and the
loss curve gain points while hetero_lr runs. Any JavaScript error or console error, and any
request to somewhere other than the party's flow, fails the test. Screenshots go to
``test-artifacts/board/``.

Needs ``chromium`` (Debian's package) and the ``playwright`` Python package without its browser
download: ``make install-browser``. Skipped without them, a failure where
``SILOBRIDGE_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jobs import allow_everywhere, submit, vertical_job
from parties import InProcessParties

from silobridge_cli import demo_data
from silobridge_cli.demo import upload
from silobridge_cli.policies import install_policy

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "board"
JOB_ID = "board-e2e"
TASKS = ("reader_0", "psi_0", "hetero_lr_0", "evaluation_0")
EPOCHS = 8
# The job must train for several of the board's 2 s polls for its curve to be seen growing: with the
# native Paillier kernel, 8 full-batch epochs at 1024 bits take about a second. 2048-bit keys and
# batches of 64 rows (8 a epoch) make it 64 rounds of the heavier crypto: 10-20 s on 2 cores.
TRAINING = {"key_bits": 2048, "batch_size": 64}
# Every peer may run anything, but an operator approves each proposal first.
HOLD_ALL: dict[str, Any] = {
    "default": "deny",
    "peers": {"*": {"action": "hold", "components": "*", "tables": ["*"]}},
}


def chromium() -> str:
    """Debian's chromium binary (the real one, not the /usr/bin wrapper script), else a skip."""
    found = next(
        (
            p
            for p in ("/usr/lib/chromium/chromium", shutil.which("chromium") or "")
            if p and os.access(p, os.X_OK)
        ),
        None,
    )
    why = None
    if found is None:
        why = "Debian's chromium is not installed: make install-browser (apt-get install chromium)"
    elif importlib.util.find_spec("playwright") is None:
        why = "the playwright package is not installed: make install-browser"
    if why is None:
        return str(found)
    if os.environ.get("SILOBRIDGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser is required (SILOBRIDGE_REQUIRE_BROWSER=1) but {why}", pytrace=False)
    pytest.skip(why)


class Watched:
    """A page whose JavaScript errors, console errors and foreign requests are recorded."""

    def __init__(self, context: Any, origin: str, name: str) -> None:
        self.name, self.origin = name, origin
        self.problems: list[str] = []
        self.page = context.new_page()
        self.page.on("pageerror", lambda exc: self.problems.append(f"JavaScript error: {exc}"))
        self.page.on(
            "console",
            lambda msg: msg.type == "error" and self.problems.append(f"console error: {msg.text}"),
        )
        self.page.on("request", self._request)

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.problems.append(f"request outside flow: {request.url}")

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def check(self) -> None:
        assert not self.problems, f"the {self.name} board: " + "; ".join(self.problems)


@contextlib.contextmanager
def failing_shows(*pages: Watched) -> Iterator[None]:
    """On a failure: every page's screenshot and recorded problems, in the error."""
    try:
        yield
    except Exception as exc:
        notes = [f"{p.name}: {p.problems} (screenshot {p.shot(f'failed-{p.name}')})" for p in pages]
        raise AssertionError(f"{exc}\n" + "\n".join(notes)) from exc


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def dag_states(page: Any) -> dict[str, str]:
    return dict(page.evaluate("() => board.cy ? board.cy.nodes().map((n) => [n.id(), n.data('state')]) : []"))


def loss_points(page: Any) -> int:
    return int(page.evaluate("() => board.charts['hetero_lr_0/loss']?.points ?? 0"))


def test_the_board_follows_a_job_from_approval_to_its_curves(parties: InProcessParties, browser: Any) -> None:
    start = time.monotonic()
    guest_url, host_url = parties.flow("guest"), parties.flow("host")
    split = demo_data.split(*demo_data.load("breast_cancer"), 10)
    upload(guest_url, split.guest_csv, namespace="demo", name="guest", label_column="y")
    upload(host_url, split.host_csv, namespace="demo", name="host")

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    guest = Watched(context, origin(guest_url), "guest")
    host = Watched(context, origin(host_url), "host")
    guest.page.goto(f"{guest_url}/board#token={parties.token('guest')}&job={JOB_ID}")
    host.page.goto(f"{host_url}/board#token={parties.token('host')}")

    job = vertical_job(epochs=EPOCHS, early_stop=False, **TRAINING)
    job["job_id"] = JOB_ID
    allow_everywhere(job)  # what submit does first: then the host's operator must approve
    install_policy(host_url, HOLD_ALL)
    submit(guest_url, job)

    # held at the host: the guest's board opens the job and draws every task WAITING
    with failing_shows(guest, host):
        guest.page.wait_for_function(
            "(n) => board.cy && board.cy.nodes().length === n && board.cy.nodes().every((x) => x.data('state') === 'WAITING')",
            arg=len(TASKS),
            timeout=20_000,
        )
    seen: dict[str, list[str]] = {t: ["WAITING"] for t in TASKS}
    assert set(dag_states(guest.page)) == set(TASKS)
    guest.shot("1-guest-job-held")

    # the host's operator approves it on the host's board
    host.page.click("#tabs [data-view=approvals]")
    approve = host.page.locator(f"[data-decide=approve][data-id='{JOB_ID}']")
    approve.wait_for(timeout=20_000)
    host.shot("2-host-approvals")
    approve.click()

    loss_seen: list[int] = []
    mid_shot = False
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        for task, state in dag_states(guest.page).items():
            if seen[task][-1] != state:
                seen[task].append(state)
        points = loss_points(guest.page)
        if not loss_seen or loss_seen[-1] != points:
            loss_seen.append(points)
        if not mid_shot and points >= 2 and seen["hetero_lr_0"][-1] == "RUNNING":
            guest.shot("3-guest-job-running")
            mid_shot = True
        if all(s[-1] in ("SUCCEEDED", "FAILED", "CANCELLED") for s in seen.values()):
            break
        guest.page.wait_for_timeout(250)
    # the curves and log of the finished job are drawn on the next poll
    guest.page.wait_for_function(
        f"() => (board.charts['hetero_lr_0/loss']?.points ?? 0) === {EPOCHS} && board.charts['evaluation_0/roc']",
        timeout=10_000,
    )
    loss_seen.append(loss_points(guest.page))
    guest.page.set_viewport_size({"width": 1400, "height": 2000})  # the whole job page: curves and log
    guest.page.wait_for_timeout(300)
    guest.shot("4-guest-job-succeeded")
    guest.page.locator("#dag").screenshot(path=str(ARTIFACTS / "5-guest-dag.png"))
    guest.page.locator("[data-chart='hetero_lr_0/loss']").screenshot(path=str(ARTIFACTS / "6-guest-loss.png"))
    host.page.click("#tabs [data-view=jobs]")
    host.page.click(f"[data-job='{JOB_ID}']")
    host.page.wait_for_function(
        "() => board.cy && board.cy.nodes().every((x) => ['SUCCEEDED', 'NONE'].includes(x.data('state')))",
        timeout=10_000,
    )
    host.shot("7-host-job-succeeded")

    for task, states in seen.items():
        assert states[0] == "WAITING" and states[-1] == "SUCCEEDED", (task, states)
    assert "RUNNING" in seen["hetero_lr_0"], seen
    assert loss_seen[-1] == EPOCHS and len({p for p in loss_seen if p}) >= 2, (
        f"the loss curve did not gain points while the job ran: {loss_seen}"
    )
    log = guest.page.locator("#log").inner_text()
    assert "started on node" in log, log
    guest.check()
    host.check()
    context.close()
    assert time.monotonic() - start < 120
