/* The index / sweep page: sort (click a header; numbers as numbers, empty cells last), filter, "hide same",
   "compare selected", and the parallel-coordinates and scatter plots (SVG) drawn from the JSON embedded in the
   page (#sweep-data). No network, no library. */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var dataNode = document.getElementById("sweep-data");
  var data = dataNode ? JSON.parse(dataNode.textContent) : { runs: [], params: [], metrics: [], same: [] };
  var table = document.getElementById("reports");

  /* ---- sorting ---- */
  function sortKey(row, col) {
    var cell = row.cells[col];
    var raw = cell ? (cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim()) : "";
    return { empty: raw === "", num: raw === "" ? NaN : Number(raw), text: raw };
  }
  function compareKeys(a, b) {
    if (a.empty || b.empty) { return a.empty === b.empty ? 0 : (a.empty ? 1 : -1); }
    if (!isNaN(a.num) && !isNaN(b.num)) { return a.num - b.num; }
    return a.text.localeCompare(b.text, undefined, { numeric: true, sensitivity: "base" });
  }
  document.querySelectorAll("table.sortable").forEach(function (t) {
    t.tHead.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) { return; }
      var th = button.closest("th");
      var headers = Array.prototype.slice.call(t.tHead.rows[0].cells);
      var col = headers.indexOf(th);
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = t.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows).map(function (row, i) { return [sortKey(row, col), i, row]; });
      rows.sort(function (x, y) {
        var c = compareKeys(x[0], y[0]);
        if (c !== 0 && !(x[0].empty || y[0].empty)) { c = ascending ? c : -c; }
        return c !== 0 ? c : x[1] - y[1];
      });
      rows.forEach(function (r) { body.appendChild(r[2]); });
    });
  });
  if (!table) { return; }

  var body = table.tBodies[0];
  function rowsOf() { return Array.prototype.slice.call(body.rows); }
  function runIndex(row) { var pick = row.querySelector("input.pick"); return pick ? Number(pick.getAttribute("data-i")) : -1; }

  /* ---- filter: words match any cell; column>value, column<value, column=value compare one column ---- */
  var filter = document.getElementById("sweep-filter");
  var count = document.getElementById("sweep-count");
  function headerTexts() {
    return Array.prototype.slice.call(table.tHead.rows[0].cells).map(function (th) { return th.textContent.trim().toLowerCase(); });
  }
  function parseTerms(text) {
    var headers = headerTexts();
    return text.toLowerCase().split(/\s+/).filter(Boolean).map(function (term) {
      var m = term.match(/^([^<>=]+?)(<=|>=|=|<|>)(.+)$/);
      if (!m) { return { word: term }; }
      var col = headers.findIndex(function (h) { return h === m[1] || h.slice(-m[1].length - 1) === "." + m[1]; });
      if (col < 0) { col = headers.findIndex(function (h) { return h.indexOf(m[1]) >= 0; }); }
      return col < 0 ? { word: term } : { col: col, op: m[2], value: m[3] };
    });
  }
  function termMatches(row, term) {
    if (term.word !== undefined) { return row.textContent.toLowerCase().indexOf(term.word) >= 0; }
    var key = sortKey(row, term.col), want = Number(term.value);
    if (key.empty) { return false; }
    var cellText = row.cells[term.col].textContent.trim().toLowerCase();
    if (!isNaN(key.num) && !isNaN(want)) {
      return { "<": key.num < want, ">": key.num > want, "<=": key.num <= want, ">=": key.num >= want, "=": key.num === want }[term.op];
    }
    return term.op === "=" ? cellText === term.value || cellText.indexOf(term.value) >= 0 : false;
  }
  function applyFilter() {
    var terms = parseTerms(filter ? filter.value : "");
    var shown = 0, rows = rowsOf();
    rows.forEach(function (row) {
      var ok = terms.every(function (t) { return termMatches(row, t); });
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    if (count) { count.textContent = shown + " of " + rows.length + " shown"; }
    draw();
  }
  if (filter) { filter.addEventListener("input", applyFilter); }

  /* ---- hide same: the config values every run shares, as columns on demand ---- */
  var hideSame = document.getElementById("hide-same");
  function setSameColumns(show) {
    table.querySelectorAll(".cfg-same").forEach(function (cell) { cell.remove(); });
    if (!show) { return; }
    var head = table.tHead.rows[0];
    data.same.forEach(function (pair) {
      var th = document.createElement("th");
      th.className = "cfg cfg-same";
      th.title = pair[0] + " (the same in every run)";
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = pair[0];
      th.appendChild(b);
      head.appendChild(th);
    });
    rowsOf().forEach(function (row) {
      data.same.forEach(function (pair) {
        var td = document.createElement("td");
        td.className = "cfg cfg-same";
        td.textContent = pair[1];
        row.appendChild(td);
      });
    });
  }
  if (hideSame) { hideSame.addEventListener("change", function () { setSameColumns(!hideSame.checked); }); }

  /* ---- compare selected: the command for the ticked runs ---- */
  function quote(s) { return /^[A-Za-z0-9_.\/-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'"; }
  function picked() {
    return rowsOf().filter(function (row) { var p = row.querySelector("input.pick"); return p && p.checked; }).map(runIndex);
  }
  var compareButton = document.getElementById("compare-selected");
  var compareOut = document.getElementById("compare-command");
  if (compareButton) {
    compareButton.addEventListener("click", function () {
      var chosen = picked();
      compareOut.hidden = false;
      if (chosen.length < 2) { compareOut.textContent = "Tick at least two runs to compare."; return; }
      var paths = chosen.map(function (i) { return quote(data.runs[i].json); });
      compareOut.textContent = "# in the folder of this page:\nhjepa-report compare " + paths.join(" ") + " -o compare.html";
    });
  }
  var pickAll = document.getElementById("pick-all");
  if (pickAll) {
    pickAll.addEventListener("change", function () {
      rowsOf().forEach(function (row) { if (!row.hidden) { row.querySelector("input.pick").checked = pickAll.checked; } });
      draw();
    });
  }
  body.addEventListener("change", function (event) { if (event.target.classList.contains("pick")) { draw(); } });

  /* ---- plots ---- */
  var metricSelect = document.getElementById("sweep-metric");
  var parallel = document.getElementById("parallel");
  var scatter = document.getElementById("scatter");
  if (metricSelect) { metricSelect.addEventListener("change", draw); }

  function fmt(v) {
    if (typeof v !== "number") { return String(v); }
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(1) : String(Number(v.toPrecision(3)));
  }
  /* An axis maps a value to [0, 1]: linear or log for numbers, evenly spaced sorted categories for text. */
  function makeAxis(values, numeric, log) {
    var present = values.filter(function (v) { return v !== null && v !== undefined; });
    if (numeric) {
      var t = log ? present.map(Math.log10) : present.slice();
      var lo = Math.min.apply(null, t), hi = Math.max.apply(null, t);
      if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
      return {
        at: function (v) { if (v === null || v === undefined) { return null; } var x = log ? Math.log10(v) : v; return (x - lo) / (hi - lo); },
        ticks: (log ? [lo, (lo + hi) / 2, hi].map(function (x) { return Math.pow(10, x); }) : [lo, (lo + hi) / 2, hi]).map(function (v) { return [v, fmt(v)]; })
      };
    }
    var cats = Array.from(new Set(present.map(String))).sort(function (a, b) { return a.localeCompare(b, undefined, { numeric: true }); });
    return {
      at: function (v) { if (v === null || v === undefined) { return null; } var i = cats.indexOf(String(v)); return cats.length < 2 ? 0.5 : i / (cats.length - 1); },
      ticks: cats.length <= 12 ? cats.map(function (c) { return [c, c.length > 14 ? c.slice(0, 13) + "\u2026" : c]; }) : []
    };
  }
  function colour(t) { // viridis, five stops (van der Walt & Smith, matplotlib 2015)
    var stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
    var x = Math.max(0, Math.min(1, t)) * (stops.length - 1), i = Math.min(stops.length - 2, Math.floor(x)), f = x - i;
    var c = stops[i].map(function (s, k) { return Math.round(s + f * (stops[i + 1][k] - s)); });
    return "rgb(" + c.join(",") + ")";
  }
  function visibleRuns() {
    return rowsOf().filter(function (row) { return !row.hidden; }).map(runIndex).filter(function (i) { return i >= 0; });
  }

  function draw() {
    if (!metricSelect || !parallel) { return; }
    var m = Number(metricSelect.value), metric = data.metrics[m], better = metric[2];
    var params = data.params.map(function (p, k) { return { key: p[0], numeric: p[1], log: p[2], plotted: p[3], k: k }; })
      .filter(function (p) { return p.plotted; });
    var shown = visibleRuns(), chosen = new Set(picked());
    var axes = params.map(function (p) {
      return { label: p.key, axis: makeAxis(data.runs.map(function (r) { return r.c[p.k]; }), p.numeric, p.log), get: function (r) { return r.c[p.k]; } };
    });
    var metricAxis = makeAxis(data.runs.map(function (r) { return r.m[m]; }), true, false);
    axes.push({ label: metric[1], axis: metricAxis, get: function (r) { return r.m[m]; }, metric: true });
    var goodness = function (r) {
      var t = metricAxis.at(r.m[m]);
      return t === null ? null : (better === "lower" ? 1 - t : t);
    };
    drawParallel(axes, shown, chosen, goodness);
    drawScatter(params, axes[axes.length - 1], shown, chosen);
  }

  /* The plots are built as SVG markup and set at once: thousands of createElementNS calls (500 runs x
     (a line + a dot per hyperparameter), each with a title) took most of the page's opening time. */
  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function svgOpen(w, h, cls) {
    return '<svg xmlns="' + SVG + '" width="' + w + '" height="' + h + '" viewBox="0 0 ' + w + " " + h + '"' + (cls ? ' class="' + cls + '"' : "") + ">";
  }

  function drawParallel(axes, shown, chosen, goodness) {
    var left = 60, right = 60, top = 46, bottom = 26, height = 320;
    // a width from the axis count, not from the page: reading the container's width would force a layout of
    // the whole table (hundreds of ms with 500 rows) on every redraw
    var width = Math.max(900, left + right + 120 * (axes.length - 1));
    var step = (width - left - right) / Math.max(1, axes.length - 1);
    var xAt = function (j) { return left + j * step; }, yAt = function (t) { return top + (1 - t) * (height - top - bottom); };
    var back = [], front = [];
    shown.forEach(function (i) {
      var run = data.runs[i], points = [];
      axes.forEach(function (a, j) { var t = a.axis.at(a.get(run)); if (t !== null) { points.push(xAt(j).toFixed(1) + "," + yAt(t).toFixed(1)); } });
      if (points.length < 2) { return; }
      var g = goodness(run), picked = chosen.has(i);
      var title = run.name + ": " + axes.map(function (a) { var v = a.get(run); return a.label + " = " + (v === null ? "-" : fmt(v)); }).join(", ");
      (picked ? front : back).push('<polyline points="' + points.join(" ") + '" fill="none" stroke="' + (g === null ? "#9aa3b2" : colour(g)) +
        '" class="pc-line' + (picked ? " picked" : "") + '"><title>' + esc(title) + "</title></polyline>");
    });
    var parts = [svgOpen(width, height, "pc"), '<g class="pc-lines">', back.join(""), front.join(""), "</g>"];
    axes.forEach(function (a, j) {
      var x = xAt(j), anchor = j === 0 ? "start" : (j === axes.length - 1 ? "end" : "middle");
      var name = a.label.length > 30 ? "\u2026" + a.label.slice(-29) : a.label;
      // labels alternate between two rows, so neighbouring axes' names do not overlap
      parts.push('<g class="pc-axis' + (a.metric ? " metric" : "") + '" data-label="' + esc(a.label) + '">',
        '<line x1="' + x + '" x2="' + x + '" y1="' + top + '" y2="' + (height - bottom) + '"></line>',
        '<text x="' + x + '" y="' + (j % 2 ? 30 : 14) + '" text-anchor="' + anchor + '">' + esc(name) + "<title>" + esc(a.label) + "</title></text>");
      a.axis.ticks.forEach(function (tick) {
        var y = yAt(a.axis.at(tick[0]));
        parts.push('<line x1="' + (x - 3) + '" x2="' + (x + 3) + '" y1="' + y + '" y2="' + y + '"></line>',
          '<text x="' + (x + 5) + '" y="' + (y + 4) + '" class="tick">' + esc(tick[1]) + "</text>");
      });
      parts.push("</g>");
    });
    parts.push("</svg>");
    parallel.innerHTML = parts.join("");
  }

  function drawScatter(params, metricAxisSpec, shown, chosen) {
    var w = 240, h = 190, l = 44, r = 10, t = 10, b = 40, html = [];
    params.forEach(function (p) {
      var xAxis = makeAxis(data.runs.map(function (run) { return run.c[p.k]; }), p.numeric, p.log);
      var X = function (v) { return l + xAxis.at(v) * (w - l - r); }, Y = function (v) { return t + (1 - metricAxisSpec.axis.at(v)) * (h - t - b); };
      var parts = ['<figure class="scatter-panel">', svgOpen(w, h), '<rect x="' + l + '" y="' + t + '" width="' + (w - l - r) + '" height="' + (h - t - b) + '" class="frame"></rect>'];
      var xTicks = xAxis.ticks.slice(0, 6);
      xTicks.forEach(function (tick, n) {
        var anchor = xTicks.length > 1 && n === 0 ? "start" : (xTicks.length > 1 && n === xTicks.length - 1 ? "end" : "middle");
        parts.push('<text x="' + X(tick[0]) + '" y="' + (h - b + 14) + '" text-anchor="' + anchor + '" class="tick">' + esc(tick[1]) + "</text>");
      });
      metricAxisSpec.axis.ticks.forEach(function (tick) {
        parts.push('<text x="' + (l - 4) + '" y="' + (Y(tick[0]) + 4) + '" text-anchor="end" class="tick">' + esc(tick[1]) + "</text>");
      });
      shown.forEach(function (i) {
        var run = data.runs[i], xv = run.c[p.k], yv = metricAxisSpec.get(run);
        if (xv === null || yv === null || xv === undefined || yv === undefined) { return; }
        var picked = chosen.has(i);
        parts.push('<circle cx="' + X(xv).toFixed(1) + '" cy="' + Y(yv).toFixed(1) + '" r="' + (picked ? 5 : 3.5) + '" class="dot dot-' + esc(run.verdict || "none") +
          (picked ? " picked" : "") + '"><title>' + esc(run.name + ": " + p.key + " = " + fmt(xv) + ", " + metricAxisSpec.label + " = " + fmt(yv)) + "</title></circle>");
      });
      parts.push("</svg><figcaption>" + esc(p.key + (p.log ? " (log)" : "") + " vs " + metricAxisSpec.label) + "</figcaption></figure>");
      html.push(parts.join(""));
    });
    scatter.innerHTML = html.join("");
  }

  setTimeout(draw, 0);  // after the first paint: the table shows at once, the plots a moment later
})();
