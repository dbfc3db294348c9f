// crimerec console: live alerts over server-sent events, error messages for htmx actions, and the charts.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // htmx answers with the problem as an HTML fragment: show it rather than silently doing nothing.
  document.body.addEventListener("htmx:responseError", (event) => {
    const flash = document.getElementById("flash");
    flash.innerHTML = event.detail.xhr.responseText || "<p class='error'>The action failed.</p>";
  });
  document.body.addEventListener("htmx:sendError", () => {
    document.getElementById("flash").innerHTML = "<p class='error'>The console did not answer; check your connection.</p>";
  });
  document.body.addEventListener("htmx:afterRequest", (event) => {
    if (event.detail.successful) document.getElementById("flash").innerHTML = "";
  });
  followAlerts();
  drawCharts();
});

function followAlerts() {
  const table = document.getElementById("alerts");
  if (!table) return;
  const status = document.getElementById("live-status");
  const body = table.querySelector("tbody");
  const source = new EventSource(table.dataset.stream);
  source.onopen = () => { status.dataset.state = "live"; status.textContent = "live"; };
  source.onerror = () => { status.dataset.state = "lost"; status.textContent = "reconnecting…"; };
  source.addEventListener("alert", (event) => {
    const holder = document.createElement("tbody");
    holder.innerHTML = event.data.trim();
    const row = holder.firstElementChild;
    if (!row) return;
    const existing = document.getElementById(row.id);
    // A row someone is typing a note into is left alone; its status cell is brought up to date.
    if (existing && existing.contains(document.activeElement)) {
      existing.querySelector(".status").innerHTML = row.querySelector(".status").innerHTML;
      return;
    }
    if (existing) existing.replaceWith(row); else body.prepend(row);
    if (window.htmx) window.htmx.process(row);
    document.getElementById("alerts-empty").hidden = true;
  });
}

function drawCharts() {
  const holder = document.getElementById("chart-data");
  if (!holder || !window.Chart) return;
  const data = JSON.parse(holder.textContent);
  const pct = (v) => (v === null ? null : Math.round(v * 1000) / 10);
  const bandLines = Object.entries(data.bands).map(([name, value], i) => ({
    label: name, data: data.weeks.map(() => pct(value)), borderColor: ["#166534", "#1f4fa3", "#a16207"][i],
    borderDash: [6, 4], borderWidth: 1, pointRadius: 0, fill: false,
  }));
  const percentAxis = { min: 0, max: 100, ticks: { callback: (v) => v + "%" } };
  new Chart(document.getElementById("chart-weekly"), {
    type: "line",
    data: {
      labels: data.weeks,
      datasets: [
        { label: "95% interval (high)", data: data.high.map(pct), borderWidth: 0, pointRadius: 0,
          backgroundColor: "rgba(31,79,163,0.15)", fill: "+1" },
        { label: "95% interval (low)", data: data.low.map(pct), borderWidth: 0, pointRadius: 0, fill: false },
        { label: "recording rate", data: data.rate.map(pct), borderColor: "#14213d", backgroundColor: "#14213d",
          borderWidth: 2, spanGaps: true },
        ...bandLines,
      ],
    },
    options: { maintainAspectRatio: false, animation: false, scales: { y: percentAxis },
      plugins: { legend: { labels: { filter: (item) => !item.text.startsWith("95% interval (low") } } } },
  });
  new Chart(document.getElementById("chart-groups"), {
    type: "bar",
    data: {
      labels: data.groups.map((g) => g.replace("_", " ")),
      datasets: [
        { label: "95% interval", data: data.group_interval.map(([lo, hi]) => (lo === null ? null : [pct(lo), pct(hi)])),
          backgroundColor: "rgba(31,79,163,0.25)", barPercentage: 0.5 },
        { type: "line", label: "recording rate", data: data.group_rate.map(pct), showLine: false,
          pointRadius: 6, pointStyle: "rectRot", borderColor: "#14213d", backgroundColor: "#14213d" },
      ],
    },
    options: { maintainAspectRatio: false, animation: false, scales: { y: percentAxis } },
  });
  new Chart(document.getElementById("chart-cancellations"), {
    type: "bar",
    data: {
      labels: data.cancel_categories.map((c) => c.replace("_", " ")),
      datasets: [
        { label: "correct", data: data.cancel_correct, backgroundColor: "#166534" },
        { label: "not correct", data: data.cancel_wrong, backgroundColor: "#a4161a" },
      ],
    },
    options: { maintainAspectRatio: false, animation: false,
      scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
}
