"""The email body's own CSP: same-origin only when our page frames it (to measure its height),
and never a script, framed or not."""

from __future__ import annotations

import pytest

from dashboard.emails.views import body_policy
from tests.support.lead_data import lead_data


def directives(policy: str) -> dict[str, list[str]]:
    """A CSP as {directive: its values}."""
    parts = [part.split() for part in policy.split(";") if part.strip()]
    return {name: values for name, *values in parts}


@pytest.mark.parametrize("images", [False, True])
@pytest.mark.parametrize("framed", [False, True])
def test_the_body_policy_never_lets_a_script_run(images: bool, framed: bool):
    policy = directives(body_policy(images, framed))
    assert policy["default-src"] == ["'none'"] and policy["script-src"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]
    assert "allow-scripts" not in policy["sandbox"] and "allow-forms" not in policy["sandbox"]
    assert ("allow-same-origin" in policy["sandbox"]) is framed


@pytest.mark.parametrize(
    ("fetch_dest", "same_origin"), [("iframe", True), ("document", False), (None, False)]
)
def test_the_body_keeps_its_origin_only_when_loaded_in_a_frame(
    engine, rep, rep_client, fetch_dest: str | None, same_origin: bool
):
    with lead_data(engine) as data:
        lead = data.lead(owner=rep)
        (email,) = data.thread(lead, rep=rep, messages=1, body_html="<p>Oi</p>")
    headers = {"Sec-Fetch-Dest": fetch_dest} if fetch_dest else {}
    response = rep_client.get(f"/emails/{email.id}/body", headers=headers)
    assert response.status_code == 200
    policy = directives(response.headers["Content-Security-Policy"])
    assert ("allow-same-origin" in policy["sandbox"]) is same_origin
    assert policy["script-src"] == ["'none'"]
