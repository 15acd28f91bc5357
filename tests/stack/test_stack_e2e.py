"""End to end through the load balancer: create a customer, request a prediction,
poll until it is done, find the score in risk_history and in the API, and in what
the frontend page shows (its data comes from /api/customers/top-risk)."""

from __future__ import annotations

import time
import uuid

import pytest


@pytest.fixture(scope="module")
def scored(site, api_token):
    auth = {"Authorization": f"Bearer {api_token}"}
    ext = f"verify-{uuid.uuid4().hex[:12]}"
    body = {"external_id": ext, "name": "Verify Customer", "email": f"{ext}@example.com",
            "tenure_months": 2, "monthly_charges": 99.5, "total_charges": 199.0,
            "contract_type": "month-to-month", "support_calls": 7}
    r = site.post("/api/customers", json=body, headers=auth)
    assert r.status_code == 201, r.text
    customer = r.json()
    r = site.post("/api/predictions", json={"customer_id": customer["id"]}, headers=auth)
    assert r.status_code == 202, r.text
    task = r.json()["id"]
    deadline = time.monotonic() + 60
    while True:
        r = site.get(f"/api/predictions/{task}")
        assert r.status_code == 200, r.text
        result = r.json()
        if result["status"] == "done":
            break
        assert result["status"] not in ("failed", "failure", "error"), result
        assert time.monotonic() < deadline, f"prediction {task} not done in 60 s: {result}"
        time.sleep(1)
    return customer, task, result


def test_prediction_score_is_a_probability(scored):
    customer, _, result = scored
    assert result["customer_id"] == customer["id"]
    assert 0.0 <= result["risk_score"] <= 1.0


def test_score_in_risk_history_table(scored, stack):
    customer, _, result = scored
    rows = stack.psql(f"SELECT risk_score FROM risk_history WHERE customer_id = {int(customer['id'])}")
    scores = [float(x) for x in rows.split()]
    assert scores, "no risk_history row"
    assert any(abs(s - result["risk_score"]) < 1e-9 for s in scores), scores


def test_score_in_api_risk_history(scored, site):
    customer, _, result = scored
    r = site.get(f"/api/customers/{customer['id']}/risk-history")
    assert r.status_code == 200, r.text
    assert any(abs(i["risk_score"] - result["risk_score"]) < 1e-9 for i in r.json()["items"])


def test_frontend_lists_the_customer(scored, site, topo):
    if not topo.of_kind("frontend"):
        pytest.skip("no frontend in this environment")
    customer, _, _ = scored
    page = site.get("/")
    assert page.status_code == 200 and "customers" in page.text
    script = site.get("/app.js")
    assert script.status_code == 200 and "/api/customers/top-risk" in script.text
    # What the page's script fetches, through the same load balancer.
    r = site.get("/api/customers/top-risk?limit=100", headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    ids = [c["id"] for c in items]
    total = site.get("/api/customers?per_page=1").json()["total"]
    if total <= 100:
        assert customer["id"] in ids, f"customer {customer['id']} not on the page"
    else:  # the page shows the riskiest 100: ours is there if its score ranks
        r2 = site.get(f"/api/customers/{customer['id']}")
        assert r2.status_code == 200
        lowest = min(c["risk_score"] for c in items if c.get("risk_score") is not None)
        assert customer["id"] in ids or r2.json()["risk_score"] <= lowest


def test_frontend_page_shows_the_customer_in_a_browser(scored, site, topo, tmp_path):
    """The real page in headless Chromium: its script fetches through the load
    balancer and renders the scored customer in the risk table."""
    import shutil
    import subprocess

    if not topo.of_kind("frontend"):
        pytest.skip("no frontend in this environment")
    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium not installed (make tools installs it)")
    customer, _, _ = scored
    host, port = site.https_addr if site.tls else site.http_base.split("//")[1].split(":")
    scheme = "https" if site.tls else "http"
    time.sleep(site.min_interval * 6)  # the page makes a few requests: stay under the limit
    page = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path}",
         # The domain resolves to the published loopback address, as DNS would in prod.
         f"--host-resolver-rules=MAP {site.domain} {host}",
         "--ignore-certificate-errors", "--virtual-time-budget=15000", "--dump-dom",
         f"{scheme}://{site.domain}:{port}/"],
        capture_output=True, text=True, timeout=90, check=False,
    )
    assert page.returncode == 0, page.stderr[-2000:]
    assert 'class="customer"' in page.stdout, page.stdout[-2000:]
    # The page shows the riskiest 20 by default: exactly what the API returns.
    top = site.get("/api/customers/top-risk?limit=20").json()["items"]
    shown = [f"{c['name']} ({c['external_id']})" for c in top]
    assert shown and all(label in page.stdout for label in shown)
    if customer["id"] in {c["id"] for c in top}:
        assert f"{customer['name']} ({customer['external_id']})" in page.stdout


def _gauge(text: str, name: str) -> float:
    (line,) = [ln for ln in text.splitlines() if ln.startswith(name + " ")]
    return float(line.split()[1])


def test_a_recorded_outcome_labels_the_prediction(scored, site, api_token, topo, exec_in):
    """The real outcome, recorded through the API, counts in the live accuracy the
    API exports (and the ModelAccuracyLow alert reads)."""
    customer, _, result = scored
    api = topo.of_kind("api")[0]
    metrics_url = f"http://127.0.0.1:{api.port}/metrics"

    def labelled() -> float:
        r = exec_in(api.name, "curl", "-fsS", metrics_url)
        assert r.returncode == 0, r.stderr
        assert "churn_model_live_accuracy " in r.stdout
        return _gauge(r.stdout, "churn_model_labelled_predictions")

    before = labelled()
    churned = result["risk_score"] >= 0.5  # the model was right about this one
    r = site.put(f"/api/customers/{customer['id']}/outcome", json={"churned": churned},
                 headers={"Authorization": f"Bearer {api_token}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"customer_id": customer["id"], "churned": churned}
    assert labelled() == before + 1
    assert site.put(f"/api/customers/{customer['id']}/outcome",
                    json={"churned": churned}).status_code == 401
