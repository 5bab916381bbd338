// Draws the live-results charts from the JSON in #chart-data with the vendored Chart.js.
"use strict";

(function () {
  const PALETTE = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];

  // UTC, like every time on these pages: "18:00", "11-24 18:00" or "2025-11-24 18:00".
  function stamp(ms, withDate, withYear) {
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, "0");
    const time = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
    const day = pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " ";
    if (!withDate) return time;
    return (withYear ? d.getUTCFullYear() + "-" : "") + day + time;
  }

  // Hot-swaps as dashed vertical lines with their label, on every time chart.
  const swapMarks = {
    id: "swapMarks",
    afterDatasetsDraw(chart, _args, options) {
      const x = chart.scales.x;
      const area = chart.chartArea;
      const ctx = chart.ctx;
      (options.swaps || []).forEach((swap) => {
        const px = x.getPixelForValue(swap.t);
        if (px < area.left || px > area.right) return;
        ctx.save();
        ctx.strokeStyle = "#6b7280";
        ctx.setLineDash([4, 4]);
        ctx.beginPath();
        ctx.moveTo(px, area.top);
        ctx.lineTo(px, area.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        ctx.font = "11px system-ui, sans-serif";
        // The label goes right of the line, or left of it when it would run off the chart.
        const text = "swap: " + swap.label;
        const width = ctx.measureText(text).width;
        const left = px + 4 + width <= area.right ? px + 4 : Math.max(area.left, px - 4 - width);
        ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
        ctx.fillRect(left - 2, area.top + 2, width + 4, 14);
        ctx.fillStyle = "#374151";
        ctx.fillText(text, left, area.top + 13);
        ctx.restore();
      });
    },
  };

  // A segment that crosses buckets without requests (no rate there: null, never 0 %).
  const acrossEmpty = (ctx, value) => (ctx.p0.skip || ctx.p1.skip ? value : undefined);

  function timeChart(canvas, data, field, yTitle, percent) {
    const spansDays = data.end - data.start > 86400000;
    return new Chart(canvas, {
      type: "line",
      data: {
        datasets: data.series.map((s, i) => ({
          label: s.label,
          data: s.points.map((p) => ({ x: p.t, y: p[field], requests: p.requests })),
          borderColor: PALETTE[i % PALETTE.length],
          backgroundColor: PALETTE[i % PALETTE.length],
          // Rates: the line runs on over empty buckets, dashed there, instead of breaking
          // into isolated dots. Counts have a real 0 in every bucket and need no gaps.
          spanGaps: percent,
          segment: percent ? { borderDash: (ctx) => acrossEmpty(ctx, [4, 4]) } : {},
          tension: 0,
          pointRadius: 2,
        })),
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        parsing: false,
        interaction: { mode: "nearest", intersect: false },
        scales: {
          x: {
            type: "linear",
            min: data.start,
            max: data.end,
            ticks: { callback: (v) => stamp(v, spansDays), maxRotation: 0 },
            // Ticks on bucket boundaries (whole hours, days...) rather than Chart.js's picks.
            afterBuildTicks: (axis) => {
              const ticks = [];
              for (let t = data.start; t <= data.end; t += data.tick_ms) ticks.push({ value: t });
              axis.ticks = ticks;
            },
            title: { display: true, text: "time (UTC)" },
          },
          y: {
            beginAtZero: true,
            title: { display: true, text: yTitle },
            ticks: percent ? { callback: (v) => Math.round(v * 1000) / 10 + "%" } : {},
          },
        },
        plugins: {
          swapMarks: { swaps: data.swaps },
          tooltip: {
            callbacks: {
              title: (items) => items.length ? stamp(items[0].parsed.x, true, true) + " UTC" : "",
              label: (item) => {
                const name = item.dataset.label + ": ";
                if (!percent) return name + item.parsed.y;
                const n = item.raw.requests;
                return name + Math.round(item.parsed.y * 1000) / 10 + "% of " + n + " request" + (n === 1 ? "" : "s");
              },
            },
          },
        },
      },
      plugins: [swapMarks],
    });
  }

  function latencyChart(canvas, data) {
    return new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.latency.map((l) => l.label),
        datasets: [
          { label: "p50 ms", data: data.latency.map((l) => l.p50), backgroundColor: "#2563eb" },
          { label: "p95 ms", data: data.latency.map((l) => l.p95), backgroundColor: "#d97706" },
        ],
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, title: { display: true, text: "total latency (ms)" } } },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const source = document.getElementById("chart-data");
    if (!source || typeof Chart === "undefined") return;
    const data = JSON.parse(source.textContent);
    if (!data) return;
    const charts = {
      requests: timeChart(document.getElementById("chart-requests"), data, "requests", "requests", false),
      errors: timeChart(document.getElementById("chart-errors"), data, "error_rate", "error rate", true),
      latency: latencyChart(document.getElementById("chart-latency"), data),
    };
    window.previewgateCharts = charts; // for the browser tests and the curious
  });
})();
