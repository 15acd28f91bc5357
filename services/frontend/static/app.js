// Churn-risk UI: lists the customers most at risk (GET /api/customers/top-risk)
// and, for the one clicked, its risk history (GET /api/customers/<id>/risk-history).
// Same origin: the load balancer routes /api/ to the API servers. No build step.
"use strict";

const $ = (selector) => document.querySelector(selector);

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function riskClass(score) {
  if (score === null || score === undefined) return "risk";
  if (score >= 0.7) return "risk high";
  if (score >= 0.4) return "risk medium";
  return "risk low";
}

function percent(score) {
  return score === null || score === undefined ? "–" : `${(score * 100).toFixed(1)} %`;
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const servedBy = response.headers.get("X-Served-By");
  if (servedBy) $("#served-by").textContent = `served by ${servedBy}`;
  if (!response.ok) {
    let detail = response.statusText;
    try {
      const body = await response.json();
      detail = (body.error && (body.error.message || body.error)) || body.message || detail;
    } catch (_) { /* not JSON */ }
    throw new Error(`${path}: ${response.status} ${detail}`);
  }
  return response.json();
}

async function loadCustomers() {
  const limit = $("#limit").value;
  const status = $("#status");
  status.className = "muted";
  status.textContent = "Loading…";
  try {
    const data = await getJSON(`/api/customers/top-risk?limit=${encodeURIComponent(limit)}`);
    const items = Array.isArray(data) ? data : data.items || [];
    const tbody = $("#customers tbody");
    tbody.replaceChildren();
    for (const c of items) {
      const tr = document.createElement("tr");
      tr.className = "customer";
      tr.tabIndex = 0;
      tr.dataset.id = c.id;
      tr.append(
        cell(`${c.name} (${c.external_id})`),
        cell(c.contract_type),
        cell(String(c.tenure_months)),
        cell(Number(c.monthly_charges).toFixed(2)),
        cell(String(c.support_calls)),
        cell(percent(c.risk_score), riskClass(c.risk_score)),
      );
      const open = () => {
        document.querySelectorAll("tr.selected").forEach((row) => row.classList.remove("selected"));
        tr.classList.add("selected");
        loadHistory(c);
      };
      tr.addEventListener("click", open);
      tr.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
      tbody.append(tr);
    }
    $("#customers").hidden = items.length === 0;
    status.textContent = items.length ? `${items.length} customers, highest risk first` : "No scored customers yet.";
  } catch (error) {
    status.className = "error";
    status.textContent = `Could not load customers: ${error.message}`;
  }
}

function drawChart(points) {
  const svg = $("#history-chart");
  svg.replaceChildren();
  if (points.length < 2) return;
  const step = 600 / (points.length - 1);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", points.map((p, i) => `${(i * step).toFixed(1)},${(115 - p * 110).toFixed(1)}`).join(" "));
  svg.append(line);
}

async function loadHistory(customer) {
  $("#history").hidden = false;
  $("#history-name").textContent = customer.name;
  const rows = $("#history-rows");
  rows.replaceChildren();
  try {
    const data = await getJSON(`/api/customers/${encodeURIComponent(customer.id)}/risk-history`);
    const items = Array.isArray(data) ? data : data.items || [];
    for (const r of items) {
      const tr = document.createElement("tr");
      tr.append(
        cell(new Date(r.prediction_time).toLocaleString()),
        cell(percent(r.risk_score), riskClass(r.risk_score)),
        cell(r.model_version || ""),
      );
      rows.append(tr);
    }
    if (!items.length) {
      const tr = document.createElement("tr");
      tr.append(cell("No predictions yet.", "muted"));
      rows.append(tr);
    }
    // Oldest first for the chart.
    const sorted = [...items].sort((a, b) => String(a.prediction_time).localeCompare(String(b.prediction_time)));
    drawChart(sorted.map((r) => Number(r.risk_score)));
  } catch (error) {
    const tr = document.createElement("tr");
    tr.append(cell(`Could not load history: ${error.message}`, "error"));
    rows.append(tr);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#controls").addEventListener("submit", (event) => {
    event.preventDefault();
    loadCustomers();
  });
  loadCustomers();
});
