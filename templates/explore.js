/* Find and take: a search box over section titles, figure titles, tag names and table rows that filters the
   panels (and, in a table, its rows); a lightbox for every image figure (click to enlarge, Esc closes, arrow
   keys move); the numbers behind each interactive chart (CSV or JSON), each table (CSV) and every figure (its
   section's metrics, checks and notes exactly as report.json holds them, JSON) as downloads made in the page
   (blob: URLs, offline); a light / dark / auto theme that persists in localStorage. */
(function () {
  "use strict";
  var THEME_KEY = "hjepa-report-theme";
  var api = window.hjepaExplore = {};

  /* ---- theme: auto follows the system; light and dark are kept across visits ---- */
  var THEMES = ["auto", "light", "dark"];
  var themeButton = document.getElementById("theme-toggle");
  function storedTheme() { try { return localStorage.getItem(THEME_KEY) || "auto"; } catch (e) { return "auto"; } }
  function applyTheme(theme) {
    if (theme === "auto") { delete document.documentElement.dataset.theme; } else { document.documentElement.dataset.theme = theme; }
    if (themeButton) { themeButton.textContent = "theme: " + theme; themeButton.dataset.theme = theme; }
    document.dispatchEvent(new CustomEvent("hjepa:theme", { detail: theme }));
  }
  if (themeButton) {
    themeButton.hidden = false;
    themeButton.addEventListener("click", function () {
      var next = THEMES[(THEMES.indexOf(themeButton.dataset.theme || "auto") + 1) % THEMES.length];
      try { localStorage.setItem(THEME_KEY, next); } catch (e) { /* storage off: the choice lasts this visit */ }
      applyTheme(next);
    });
    applyTheme(storedTheme());
  }

  /* ---- search ---- */
  var search = document.getElementById("report-search");
  var status = document.getElementById("search-status");
  function text(el) { return (el.dataset.search || "") + " " + (el.querySelector(".fig-title, h3, summary") || el).textContent; }
  function matches(haystack, terms) {
    haystack = haystack.toLowerCase();
    return terms.every(function (t) { return haystack.indexOf(t) >= 0; });
  }
  function filter(query) {
    var terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0, total = 0;
    document.querySelectorAll("main section.section").forEach(function (sec) {
      var title = sec.querySelector("h2").textContent;
      var whole = !terms.length || matches(title, terms);
      var any = false;
      sec.querySelectorAll(".fig, .table-wrap").forEach(function (item) {
        var panels = item.querySelectorAll(".chart-panel");
        var hit = whole || matches(text(item), terms);
        if (item.classList.contains("table-wrap")) { hit = filterRows(item, hit, terms) || hit; }
        if (panels.length) {
          var some = false;
          panels.forEach(function (p) {
            var ok = whole || hit || matches(p.dataset.search, terms);
            p.hidden = !ok;
            some = some || ok;
          });
          hit = hit || some;
        }
        item.hidden = !hit;
        total += 1;
        if (hit) { shown += 1; any = true; }
      });
      sec.hidden = !(whole || any);
      var link = document.querySelector(".toc a[href='#" + sec.id + "']");
      if (link) { link.parentElement.hidden = sec.hidden; }
    });
    if (status) { status.textContent = terms.length ? shown + " of " + total + " figures and tables match" : ""; }
    return shown;
  }
  /* A table whose title does not match shows only its rows that do (all rows when the title or section
     matches, or the query is empty); a collapsed table with matching rows is opened. Returns whether a row
     matched on its own. */
  function filterRows(wrap, whole, terms) {
    var rows = wrap.querySelectorAll("tbody tr"), some = false;
    rows.forEach(function (tr) {
      var ok = whole || !terms.length || matches(tr.textContent, terms);
      tr.hidden = !ok;
      some = some || (ok && !whole && terms.length > 0);
    });
    var fold = wrap.querySelector("details");
    if (fold && some) { fold.open = true; }
    return some;
  }
  api.filter = filter;
  if (search) {
    search.hidden = false;
    search.addEventListener("input", function () { filter(search.value); });
  }

  /* ---- lightbox over the image figures that are shown ---- */
  var box = null, current = -1;
  function makeBox() {  // made on first use: an image element without a source must not sit in the page before
    box = document.createElement("div");
    box.id = "lightbox";
    box.className = "lightbox";
    box.hidden = true;
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", "Enlarged figure");
    box.innerHTML = '<div class="lightbox-inner"><div class="lightbox-bar"><span class="lightbox-title"></span>' +
      '<span class="lightbox-count muted"></span><button type="button" class="lightbox-prev" aria-label="previous figure">&larr;</button>' +
      '<button type="button" class="lightbox-next" aria-label="next figure">&rarr;</button>' +
      '<button type="button" class="lightbox-close" aria-label="close">&times;</button></div>' +
      '<p class="lightbox-caption"></p></div>';
    box.querySelector(".lightbox-caption").before(document.createElement("img"));
    document.body.appendChild(box);
    box.addEventListener("click", function (e) {
      if (e.target === box || e.target.classList.contains("lightbox-close")) { close(); }
      if (e.target.classList.contains("lightbox-prev")) { show(current - 1); }
      if (e.target.classList.contains("lightbox-next")) { show(current + 1); }
    });
  }
  function images() {
    return Array.prototype.filter.call(document.querySelectorAll("main .fig img"), function (img) { return img.offsetParent !== null; });
  }
  function show(index) {
    var list = images();
    if (!list.length || index < 0) { return; }
    if (!box) { makeBox(); }
    current = (index + list.length) % list.length;
    var img = list[current], fig = img.closest("figure");
    box.querySelector("img").src = img.src;
    box.querySelector("img").alt = img.alt;
    box.querySelector(".lightbox-title").textContent = fig.querySelector(".fig-title").textContent;
    var caption = fig.querySelector(".caption");
    box.querySelector(".lightbox-caption").textContent = caption ? caption.textContent : "";
    box.querySelector(".lightbox-count").textContent = (current + 1) + " / " + list.length;
    box.hidden = false;
    box.dataset.figure = fig.id;
    box.querySelector(".lightbox-close").focus();
  }
  function close() { if (box) { box.hidden = true; current = -1; } }
  api.lightbox = { show: show, close: close };
  var main = document.querySelector("main");
  if (main) {
    document.body.classList.add("has-lightbox");
    main.addEventListener("click", function (e) {
      var img = e.target.closest(".fig img");
      if (img) { show(images().indexOf(img)); }
    });
    document.addEventListener("keydown", function (e) {
      if (!box || box.hidden) { return; }
      if (e.key === "Escape") { close(); e.preventDefault(); }
      if (e.key === "ArrowRight") { show(current + 1); e.preventDefault(); }
      if (e.key === "ArrowLeft") { show(current - 1); e.preventDefault(); }
    });
  }

  /* ---- downloads: made here, from the numbers already in the page ---- */
  function csvCell(v) {
    var s = v === null || v === undefined ? "" : String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function csv(rows) { return rows.map(function (r) { return r.map(csvCell).join(","); }).join("\n") + "\n"; }
  function save(name, type, content) {
    var url = URL.createObjectURL(new Blob([content], { type: type }));
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
  }
  function numText(v) { return v === null ? "nan" : v; }

  /* Every point of the chart's tags as embedded: tag, step, wall time, value, smoothed at the chart's weight. */
  function chartRows(id) {
    var charts = window.hjepaCharts, entry = charts.charts[id], doc = charts.doc;
    var rows = [["tag", "step", "wall_time_s", "value", "smoothed", "smoothing", "downsampled"]];
    var tags = [];
    entry.panels.forEach(function (p) { p.tags.forEach(function (t) { if (tags.indexOf(t) < 0) { tags.push(t); } }); });
    tags.forEach(function (tag) {
      var s = doc.series[tag], w = entry.state.weight;
      var raw = s.values.map(function (v) { return v === null ? NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : v; });
      var sm = s.smooth && w > 0 ? (s.smoothed && w === doc.smoothing ? s.smoothed : charts.ema(raw, w)) : null;
      s.steps.forEach(function (step, i) {
        var smv = sm ? sm[i] : "";
        if (typeof smv === "number" && !Number.isFinite(smv)) { smv = String(smv).toLowerCase().replace("infinity", "inf"); }
        rows.push([tag, step, s.wall ? s.wall[i] : "", numText(s.values[i]), smv === null ? "nan" : smv, sm ? w : "", s.downsampled ? "yes" : "no"]);
      });
    });
    return rows;
  }
  function chartJSON(id) {
    var charts = window.hjepaCharts, entry = charts.charts[id], out = { figure: id, smoothing: entry.state.weight, display_cap: charts.doc.display_cap, series: {} };
    entry.panels.forEach(function (p) { p.tags.forEach(function (t) { out.series[t] = charts.doc.series[t]; }); });
    return JSON.stringify(out, null, 1);
  }
  function tableRows(wrap) {
    return Array.prototype.map.call(wrap.querySelectorAll("table tr"), function (tr) {
      return Array.prototype.map.call(tr.cells, function (c) { return c.textContent.trim(); });
    });
  }
  api.chartRows = chartRows;
  api.tableRows = tableRows;

  /* The numbers behind a figure: its section's metrics, checks and notes, as embedded from report.json. */
  var numbersHolder = document.getElementById("hjepa-section-data");
  var numbers = numbersHolder ? JSON.parse(numbersHolder.textContent) : {};
  function figureNumbers(fig) {
    var sec = fig.closest("section[data-section]"), name = sec ? sec.dataset.section : null;
    if (!name || !numbers[name]) { return null; }
    var title = fig.querySelector(".fig-title");
    return Object.assign({ section: name, figure: fig.id, title: title ? title.textContent.trim() : "" }, numbers[name]);
  }
  api.figureNumbers = figureNumbers;
  document.querySelectorAll("main figure.fig").forEach(function (fig) {
    if (!figureNumbers(fig)) { return; }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "download-json figure-numbers";
    button.textContent = "numbers (JSON)";
    button.title = "this section's metrics, checks and notes, as report.json holds them";
    button.addEventListener("click", function () {
      save(fig.id + "-numbers.json", "application/json", JSON.stringify(figureNumbers(fig), null, 1));
    });
    var caption = fig.querySelector(".caption");
    if (caption) { caption.after(button); } else { fig.appendChild(button); }
  });

  function addChartDownloads(fig) {
    var bar = fig.querySelector(".chart-tools");
    if (!bar || bar.querySelector(".download-csv")) { return; }
    bar.insertAdjacentHTML("beforeend", '<button type="button" class="download-csv">data (CSV)</button><button type="button" class="download-json">data (JSON)</button>');
    bar.querySelector(".download-csv").addEventListener("click", function () { save(fig.id + ".csv", "text/csv", csv(chartRows(fig.id))); });
    bar.querySelector(".download-json").addEventListener("click", function () { save(fig.id + ".json", "application/json", chartJSON(fig.id)); });
  }
  document.querySelectorAll("figure.fig-live").forEach(addChartDownloads);
  document.addEventListener("hjepa:charts-drawn", function (e) { addChartDownloads(document.getElementById(e.detail)); });
  document.querySelectorAll("main .table-wrap").forEach(function (wrap) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "download-csv table-download";
    button.textContent = "table (CSV)";
    button.addEventListener("click", function () { save(wrap.id + ".csv", "text/csv", csv(tableRows(wrap))); });
    wrap.appendChild(button);
  });
})();
