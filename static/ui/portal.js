/* Portal behaviour: dark mode (localStorage), click-to-search cells, grouping memory, busy buttons. */
(function () {
  "use strict";
  var THEME_KEY = "ncm-portal-theme";
  function applyTheme(dark) {
    document.body.classList.toggle("dark-mode", dark);
    var b = document.getElementById("theme-toggle");
    if (b) { b.textContent = dark ? "Light mode" : "Dark mode"; b.setAttribute("aria-pressed", dark ? "true" : "false"); }
  }
  function storedDark() { try { return localStorage.getItem(THEME_KEY) === "dark"; } catch (e) { return false; } }
  document.addEventListener("DOMContentLoaded", function () {
    applyTheme(storedDark());
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.addEventListener("click", function () {
      var dark = !document.body.classList.contains("dark-mode");
      try { localStorage.setItem(THEME_KEY, dark ? "dark" : "light"); } catch (e) {}
      applyTheme(dark);
    });
    var switcher = document.getElementById("tenant-switcher-select");
    if (switcher) switcher.addEventListener("change", function () { if (switcher.form) switcher.form.submit(); });
    restoreGrouping();
    var menu = document.getElementById("menu-toggle"), sidebar = document.getElementById("sidebar");
    if (menu && sidebar) menu.addEventListener("click", function () {
      var open = !sidebar.classList.contains("open");
      sidebar.classList.toggle("open", open);
      menu.setAttribute("aria-expanded", open ? "true" : "false");
    });
    refreshTimes(document);
    applyAllColumns();
    setInterval(function () { refreshTimes(document); }, 30000);
  });
  if (document.addEventListener) document.addEventListener("htmx:load", function (ev) {
    refreshTimes(ev.target); applyAllColumns();
  });

  // Times: <time datetime data-when> from ui/humanize.py. The exact time on hover in the viewer's own time zone,
  // relative text kept current ("just now", "1 minute ago"), older moments as a local date.
  var UNITS = [[31536000, "year"], [2592000, "month"], [604800, "week"], [86400, "day"], [3600, "hour"], [60, "minute"]];
  function relative(date, now) {
    var s = (now - date) / 1000, future = s < 0;
    s = Math.abs(s);
    if (s < 45) return "just now";
    var text = "1 minute";
    for (var i = 0; i < UNITS.length; i++) {
      if (s >= UNITS[i][0]) { var n = Math.floor(s / UNITS[i][0]); text = n + " " + UNITS[i][1] + (n === 1 ? "" : "s"); break; }
    }
    return future ? "in " + text : text + " ago";
  }
  function fmt(date, opts) { try { return date.toLocaleString(undefined, opts); } catch (e) { return date.toString(); } }
  function refreshTimes(root) {
    if (!root || !root.querySelectorAll) return;
    var now = new Date();
    root.querySelectorAll("time[datetime][data-when]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      var rel = relative(date, now);
      var exact = fmt(date, {weekday: "short", year: "numeric", month: "short", day: "numeric", hour: "2-digit",
                             minute: "2-digit", second: "2-digit", timeZoneName: "short"});
      if (el.dataset.when === "relative" || Math.abs(now - date) < 86400000) {
        el.textContent = rel; el.title = exact;
      } else {
        var opts = {month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"};
        if (date.getFullYear() !== now.getFullYear()) opts.year = "numeric";
        el.textContent = fmt(date, opts); el.title = exact + " (" + rel + ")";
      }
    });
  }

  // Columns: each table remembers which columns its viewer shows (localStorage, per table). Defaults come from
  // the columns' priority (CSS); a choice overrides them through a <style> element that outlives htmx swaps.
  function colKey(id) { return "ncm-portal-columns:" + id; }
  function loadCols(id) { try { return JSON.parse(localStorage.getItem(colKey(id)) || "{}") || {}; } catch (e) { return {}; } }
  function saveCols(id, choice) {
    try { if (Object.keys(choice).length) localStorage.setItem(colKey(id), JSON.stringify(choice)); else localStorage.removeItem(colKey(id)); } catch (e) {}
  }
  function cssEsc(v) { return (window.CSS && CSS.escape) ? CSS.escape(v) : v; }
  function applyColumns(region) {
    var id = region.id, choice = loadCols(id), rules = [];
    Object.keys(choice).forEach(function (col) {
      rules.push("#" + cssEsc(id) + " [data-col=\"" + cssEsc(col) + "\"]{display:" + (choice[col] ? "table-cell" : "none") + "!important}");
    });
    var style = document.getElementById("cols-" + id);
    if (!style) { style = document.createElement("style"); style.id = "cols-" + id; document.head.appendChild(style); }
    style.textContent = rules.join("\n");
    region.querySelectorAll("input[data-col-toggle]").forEach(function (box) {
      var th = region.querySelector("th[data-col=\"" + cssEsc(box.dataset.colToggle) + "\"]");
      box.checked = th ? getComputedStyle(th).display !== "none" : box.checked;
    });
  }
  function applyAllColumns() { document.querySelectorAll("[data-table]").forEach(applyColumns); }
  document.addEventListener("change", function (ev) {
    var box = ev.target;
    if (!box.matches || !box.matches("input[data-col-toggle]")) return;
    var region = box.closest("[data-table]");
    var choice = loadCols(region.id);
    choice[box.dataset.colToggle] = box.checked;
    saveCols(region.id, choice);
    applyColumns(region);
  });
  document.addEventListener("click", function (ev) {
    var reset = ev.target.closest && ev.target.closest("[data-col-reset]");
    if (reset) { var region = reset.closest("[data-table]"); saveCols(region.id, {}); applyColumns(region); return; }
    // A click outside an open "Columns" menu closes it.
    document.querySelectorAll("details.columns-menu[open]").forEach(function (d) { if (!d.contains(ev.target)) d.removeAttribute("open"); });
  });
  // Clicking a text cell puts its text in the table's search box (the NCM dashboards do this).
  document.addEventListener("click", function (ev) {
    var cell = ev.target.closest && ev.target.closest("td.clickable");
    if (!cell || ev.target.closest("a,button,input,form")) return;
    var region = cell.closest("[data-table]");
    var form = region && document.querySelector('form[data-search-for="' + region.id + '"]');
    var input = form && form.querySelector("input[name=q]");
    var text = (cell.dataset.text || cell.textContent || "").trim();
    if (!input || !text) return;
    input.value = text;
    if (window.htmx) { htmx.trigger(form, "submit"); } else { form.submit(); }
  });
  // Grouping choice is remembered per table in localStorage.
  document.addEventListener("click", function (ev) {
    var link = ev.target.closest && ev.target.closest("a[data-group-key]");
    if (!link) return;
    var region = link.closest("[data-table]");
    try { localStorage.setItem("ncm-portal-group:" + region.id, link.dataset.groupKey); } catch (e) {}
  });
  function restoreGrouping() {
    var params = new URLSearchParams(window.location.search);
    if (params.has("group")) return;
    document.querySelectorAll("[data-table][data-groupable]").forEach(function (region) {
      var saved = null;
      try { saved = localStorage.getItem("ncm-portal-group:" + region.id); } catch (e) {}
      if (!saved) return;
      var link = region.querySelector('a[data-group-key="' + saved + '"]');
      if (link && !link.classList.contains("active")) link.click();
    });
  }
  // Forms marked data-busy disable their submit button and show what is happening.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.matches || !form.matches("form[data-busy]")) return;
    var btn = form.querySelector("button[type=submit],button:not([type])");
    if (btn && !form.hasAttribute("hx-post") && !form.hasAttribute("hx-get")) {
      setTimeout(function () { btn.disabled = true; btn.dataset.label = btn.textContent; btn.innerHTML = '<span class="spinner"></span> ' + (form.dataset.busy || "Working…"); }, 0);
    }
  });
  document.addEventListener("htmx:responseError", function (ev) {
    var box = document.getElementById("htmx-error");
    if (box) { box.hidden = false; box.textContent = "The server answered " + ev.detail.xhr.status + ". Reload the page or try again."; }
  });
})();
