"""Malformed inputs end the job at every party, within a bounded time, with a message that names
the problem: a missing label column, a non-numeric feature, an empty intersection, mismatched
Paillier key sizes. Each test uploads its own tables (the parties are shared by the module)."""

from __future__ import annotations

import httpx
import pytest
from malformed_support import (
    NAMESPACE,
    ROLES,
    PartyView,
    job_reading,
    post_job,
    small_split,
    submit,
    table_names,
    wait_everywhere,
)
from parties import InProcessParties

from silobridge_cli.credentials import auth_headers
from silobridge_cli.demo import upload

pytestmark = [pytest.mark.slow]


def _assert_ended_everywhere(views: dict[str, PartyView], state: str, *needles: str) -> None:
    """Every party's job is in ``state`` and its job message (what the job list shows) names
    the problem; task messages are only in the failure output, to help diagnose."""
    assert set(views) == set(ROLES)
    for role, view in views.items():
        assert view.state == state, (role, view)
        for needle in needles:
            assert needle in view.message, (role, needle, view.text())


def _upload_pair(
    parties: InProcessParties, guest_csv: bytes, host_csv: bytes, stem: str, *, label: str
) -> None:
    upload(parties.flow("guest"), guest_csv, namespace=NAMESPACE, name=f"{stem}_guest", label_column=label)
    upload(parties.flow("host"), host_csv, namespace=NAMESPACE, name=f"{stem}_host")


def test_missing_label_column_fails_the_job_everywhere(parties: InProcessParties) -> None:
    split = small_split()
    _upload_pair(parties, split.guest_csv, split.host_csv, "nolabel", label="")  # "y" is just a column
    job_id = submit(parties.flow("guest"), job_reading("nolabel_guest", "nolabel_host"))
    views = wait_everywhere(parties, job_id)
    _assert_ended_everywhere(views, "FAILED", "label", "reader_0")


def _with_text_cell(csv: bytes, line_no: int, column: int, text: str) -> bytes:
    lines = csv.decode().splitlines()
    cells = lines[line_no - 1].split(",")
    cells[column] = text
    lines[line_no - 1] = ",".join(cells)
    return ("\n".join(lines) + "\n").encode()


def test_non_numeric_feature_is_refused_at_upload(parties: InProcessParties) -> None:
    split = small_split()
    bad = _with_text_cell(split.host_csv, line_no=8, column=4, text="n/a")  # column 4 = h3
    resp = httpx.post(
        f"{parties.flow('host')}/v1/data/upload",
        params={"namespace": NAMESPACE, "name": "nonnum_host", "id_column": "id", "partitions": "2"},
        content=bad,
        headers=auth_headers(parties.flow("host")),
        timeout=60,
    )
    assert resp.status_code == 400, resp.text
    message = resp.json()["error"]["message"]
    assert "'h3'" in message and "not numeric" in message and "line 8" in message, message
    assert "nonnum_host" not in table_names(parties.flow("host"))


def test_job_on_a_never_stored_host_table_ends_everywhere(parties: InProcessParties) -> None:
    """The host refuses the proposal (its table is missing); the initiator ends the job REFUSED
    and tells the arbiter, so every party shows a final state that names the missing table."""
    split = small_split()
    upload(
        parties.flow("guest"), split.guest_csv, namespace=NAMESPACE, name="nostore_guest", label_column="y"
    )
    assert "nostore_host" not in table_names(parties.flow("host"))
    job_id = submit(parties.flow("guest"), job_reading("nostore_guest", "nostore_host"))
    views = wait_everywhere(parties, job_id)
    _assert_ended_everywhere(views, "REFUSED", f"table {NAMESPACE}.nostore_host not found at party 10000")


def test_job_on_a_never_stored_guest_table_is_rejected_at_submit(parties: InProcessParties) -> None:
    job = {"job_id": "malformed_guest_table_missing", **job_reading("nostore2_guest", "nostore2_host")}
    resp = post_job(parties.flow("guest"), job)
    assert resp.status_code == 400, resp.text
    assert f"table {NAMESPACE}.nostore2_guest not found at party 9999" in resp.json()["error"]["message"]
    for role in ROLES:  # nothing was proposed: no party holds a job left waiting
        url = parties.flow(role)
        assert httpx.get(f"{url}/v1/jobs/{job['job_id']}", headers=auth_headers(url)).status_code == 404, role


def test_empty_intersection_fails_the_job_everywhere(parties: InProcessParties) -> None:
    guest = small_split(id_prefix="g")
    host = small_split(id_prefix="h")
    _upload_pair(parties, guest.guest_csv, host.host_csv, "disjoint", label="y")
    job_id = submit(parties.flow("guest"), job_reading("disjoint_guest", "disjoint_host"))
    views = wait_everywhere(parties, job_id)
    # The host refuses below its k before the guest learns anything; "empty" is not said apart.
    _assert_ended_everywhere(
        views, "FAILED", "the intersection covers fewer rows than the minimum aggregation size", "psi_0"
    )


def test_mismatched_key_sizes_fail_the_job_everywhere(parties: InProcessParties) -> None:
    split = small_split()
    _upload_pair(parties, split.guest_csv, split.host_csv, "keys", label="y")
    job = job_reading("keys_guest", "keys_host", key_bits=1280)
    lr = next(c for c in job["components"] if c["component"] == "hetero_lr")
    lr["role_params"] = {"arbiter": {"key_bits": 1024}}  # the arbiter makes a 1024-bit key
    job_id = submit(parties.flow("guest"), job)
    views = wait_everywhere(parties, job_id)
    needles = ("hetero_lr_0", "mismatched key sizes", "1024 bits", "key_bits=1280")
    _assert_ended_everywhere(views, "FAILED", *needles)


def test_the_parties_still_run_a_good_job_afterwards(parties: InProcessParties) -> None:
    """The failures left nothing behind that blocks the next job (sessions, queues, locks)."""
    split = small_split()
    _upload_pair(parties, split.guest_csv, split.host_csv, "good", label="y")
    job_id = submit(parties.flow("guest"), job_reading("good_guest", "good_host"))
    views = wait_everywhere(parties, job_id)
    assert {r: v.state for r, v in views.items()} == dict.fromkeys(ROLES, "SUCCEEDED"), views
