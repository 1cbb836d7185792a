"use strict";
// The dashboard's chart (templates/admin/dashboard.html): SCIM requests and errors per day, drawn
// with uPlot (lifecycle/static/lifecycle/vendor) from the figures the page carries as JSON.
{
  const data = JSON.parse(document.getElementById("requests-data").textContent);
  const target = document.getElementById("requests-chart");
  const days = data.days.map((day) => Date.parse(day + "T00:00:00Z") / 1000);
  const width = () => Math.max(280, Math.min(target.parentElement.clientWidth - 24, 1100));
  const dark = window.matchMedia("(prefers-color-scheme: dark)").matches;
  const axis = { stroke: dark ? "#ccc" : "#333", grid: { stroke: dark ? "#444" : "#ddd" } };
  const chart = new uPlot(
    {
      width: width(),
      height: 240,
      scales: { x: { time: true } },
      axes: [axis, axis],
      series: [
        {},
        { label: "Requests", stroke: "#2a6fdb", width: 2, fill: "rgba(42, 111, 219, 0.1)" },
        { label: "Errors", stroke: "#c62828", width: 2 },
      ],
    },
    [days, data.requests, data.errors],
    target,
  );
  target.dataset.drawn = "true";
  window.addEventListener("resize", () => chart.setSize({ width: width(), height: 240 }));
}
