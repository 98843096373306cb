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
