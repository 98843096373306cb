/* History charts (uPlot, vendored in static/vendor/uplot). Each <div data-chart> names a json_script (data-source),
   a path in it (data-path: an object {t: [...], key: [...]}) and its series (data-series: [{key, label, color, unit}]).
   data-kind="bars" draws bars; data-x="month" labels months, data-x="category" labels d.labels[i].
   Colours come from the page's CSS variables, so charts follow dark mode (re-drawn when the theme changes).
   After drawing, the element carries data-points (points drawn); without data it shows its data-empty text.
   Every chart has a table / CSV fallback next to it in the page. */
(function () {
  "use strict";
  function css(name, fallback) {
    var v = getComputedStyle(document.body).getPropertyValue(name).trim();
    return v || fallback;
  }
  function human(v, unit) {
    if (v == null || isNaN(v)) return "—";
    if (unit === "bytes") {
      var units = ["B", "KB", "MB", "GB", "TB", "PB"], i = 0, n = Math.abs(v);
      while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
      return (v < 0 ? "-" : "") + (n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)) + " " + units[i];
    }
    var digits = Math.abs(v) >= 10 ? 0 : 1;
    if (unit === "%") return (+v).toFixed(digits) + " %";
    if (unit) return (+v).toFixed(digits) + " " + unit;
    return String(Math.round(v * 10) / 10);
  }
  function lookup(obj, path) {
    var parts = (path || "").split(".").filter(Boolean);
    for (var i = 0; i < parts.length && obj != null; i++) obj = obj[parts[i]];
    return obj;
  }
  function draw(el) {
    if (typeof uPlot === "undefined") return;
    var src = document.getElementById(el.getAttribute("data-source"));
    if (!src) return;
    var data = lookup(JSON.parse(src.textContent), el.getAttribute("data-path"));
    var spec = JSON.parse(el.getAttribute("data-series") || "[]");
    if (el._uplot) { el._uplot.destroy(); el._uplot = null; }
    el.innerHTML = "";
    if (!data || !data.t || !data.t.length) {
      el.setAttribute("data-points", "0");
      var p = document.createElement("p");
      p.className = "empty";
      p.textContent = el.getAttribute("data-empty") || "No history yet.";
      el.appendChild(p);
      return;
    }
    var bars = el.getAttribute("data-kind") === "bars";
    var xmode = el.getAttribute("data-x") || "time";
    var text = css("--text", "#111827"), grid = css("--border-color", "#e5e7eb");
    var palette = [css("--primary-color", "#4f46e5"), css("--warning-color", "#d97706"), css("--success-color", "#059669"),
                   css("--danger-color", "#dc2626"), css("--info-color", "#0284c7")];
    var series = [{ label: xmode === "category" ? "" : "Time" }];
    spec.forEach(function (s, i) {
      var color = s.color ? css(s.color, palette[i % palette.length]) : palette[i % palette.length];
      var one = {
        label: s.label, stroke: color, width: bars ? 1 : 1.5, scale: s.scale || "y", spanGaps: false,
        points: { show: !bars && data.t.length < 60, size: 4 },
        value: function (u, v) { return human(v, s.unit); },
      };
      if (bars) {
        one.fill = color + "b3";
        // Overlaid bars, the later series narrower, so each stays visible.
        one.paths = uPlot.paths.bars({ size: [0.7 - 0.3 * i / Math.max(1, spec.length), 80] });
      }
      series.push(one);
    });
    var xvalues;
    if (xmode === "month") {
      xvalues = function (u, vals) { return vals.map(function (v) { return new Date(v * 1000).toLocaleDateString(undefined, { month: "short", year: "2-digit", timeZone: "UTC" }); }); };
    } else if (xmode === "category") {
      xvalues = function (u, vals) { return vals.map(function (v) { return (data.labels || [])[Math.round(v)] || ""; }); };
    }
    var axes = [
      { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, values: xvalues },
      { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 80,
        values: function (u, vals) { return vals.map(function (v) { return human(v, spec[0] && spec[0].unit); }); } },
    ];
    var scales = { x: { time: xmode === "time" } };
    if (xmode !== "time") scales.x.range = function (u, min, max) { return [min - 0.5, max + 0.5]; };
    if (xmode === "category") axes[0].splits = function () { return data.t; };
    var opts = {
      width: Math.max(280, el.clientWidth || 600), height: parseInt(el.getAttribute("data-height") || "220", 10),
      series: series, axes: axes, scales: scales, legend: { show: true }, cursor: { drag: { x: true, y: false } },
    };
    var columns = [data.t].concat(spec.map(function (s) { return data[s.key] || []; }));
    el._uplot = new uPlot(opts, columns, el);
    el.setAttribute("data-points", String(data.t.length));
  }
  function drawAll() {
    var els = document.querySelectorAll("[data-chart]");
    for (var i = 0; i < els.length; i++) {
      try { draw(els[i]); } catch (e) { if (window.console) console.error("chart", e); }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    drawAll();
    var timer;
    window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(drawAll, 200); });
    if (window.MutationObserver) {
      var last = document.body.classList.contains("dark-mode");
      new MutationObserver(function () {
        var now = document.body.classList.contains("dark-mode");
        if (now !== last) { last = now; drawAll(); }
      }).observe(document.body, { attributes: true, attributeFilter: ["class"] });
    }
  });
})();
