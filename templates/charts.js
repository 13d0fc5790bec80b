/* Interactive training curves: the numbers in #hjepa-chart-data (analysis/charts.py, embedded by render/interactive.py) drawn with uPlot.
   Per figure: hover read-out (step, raw, smoothed), drag to zoom (double-click or "reset zoom" to undo) and
   pan (the arrow buttons, or shift + mouse wheel over a panel) with the x-axes of the figure's panels linked,
   legend click toggles a series, log/linear y, x as step, as epoch (step / the run's steps per epoch, when
   known) or as wall time where every tag logged it, and a smoothing slider computing TensorBoard's debiased
   EMA exactly as hjepa_report/analysis/smoothing.py does. The static PNG stays in the page for print and for
   scripts off. */
(function () {
  "use strict";
  var holder = document.getElementById("hjepa-chart-data");
  if (!holder || typeof uPlot === "undefined") { return; }
  var doc = JSON.parse(holder.textContent);
  var COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7"];
  var api = { doc: doc, ema: ema, charts: {} };
  window.hjepaCharts = api;

  function num(v) { return v === null ? NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : v; }

  /* TensorBoard's debiased EMA (data_transformer.ts classicSmoothing), as debiased_ema in Python:
     s_t = w s_{t-1} + (1 - w) x_t from s_0 = 0 over the finite points, shown as s_t / (1 - w^n_t); non-finite
     points pass through and do not update; a constant series is returned as is. */
  function ema(values, w) {
    var out = values.slice();
    var finite = values.filter(function (v) { return Number.isFinite(v); });
    if (!(w > 0) || !finite.length || finite.every(function (v) { return v === finite[0]; })) { return out; }
    var last = 0, n = 0;
    for (var i = 0; i < values.length; i++) {
      if (Number.isFinite(values[i])) {
        last = last * w + (1 - w) * values[i];
        n += 1;
        out[i] = last / (1 - Math.pow(w, n));
      }
    }
    return out;
  }

  function fmt(v) {
    if (v === null || v === undefined) { return "-"; }
    return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(5) : String(+v.toPrecision(6));
  }

  function tick(v) {
    if (v === 0) { return "0"; }
    return Math.abs(v) >= 1e5 || Math.abs(v) < 1e-2 ? v.toExponential(1) : String(+v.toPrecision(4));
  }
  function ticks(u, splits) { return splits.map(function (v) { return v == null ? "" : tick(v); }); }

  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function alpha(hex, a) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + a + ")";
  }

  /* One series' points for the current settings: x, raw, smoothed (null where not finite: a gap). */
  function points(tag, state) {
    var s = doc.series[tag];
    var raw = s.values.map(num);
    var smooth = null;
    if (s.smooth && state.weight > 0) {
      smooth = s.smoothed && state.weight === doc.smoothing ? s.smoothed.map(num) : ema(raw, state.weight);
    }
    var x = state.x === "wall" ? s.wall : state.x === "epoch" ? s.steps.map(function (v) { return v / doc.steps_per_epoch; }) : s.steps;
    var gap = function (v) { return Number.isFinite(v) ? v : null; };
    return { x: x, raw: raw.map(gap), smooth: smooth ? smooth.map(gap) : null, spec: s };
  }

  function panelData(panel, state) {
    var xlabel = state.x === "wall" ? "wall time (s)" : state.x === "epoch" ? "epoch" : "step";
    var tables = [], series = [{ label: xlabel, value: function (u, v) { return v == null ? "-" : fmt(v); } }];
    var pair = panel.tags.length > 1;
    panel.tags.forEach(function (tag, k) {
      var p = points(tag, state), colour = COLOURS[k % COLOURS.length];
      var few = p.spec.count < 20;
      var cols = [p.x, p.raw];
      series.push({ label: pair || panel.named ? tag : "raw", stroke: p.smooth ? alpha(colour, 0.3) : colour, width: p.smooth ? 1 : 1.6,
                    spanGaps: pair, points: { show: few }, value: function (u, v) { return fmt(v); } });
      if (p.smooth) {
        cols.push(p.smooth);
        series.push({ label: pair ? tag + " smoothed" : "smoothed", stroke: colour, width: 1.8, spanGaps: pair, points: { show: false },
                      value: function (u, v) { return fmt(v); } });
      }
      tables.push(cols);
    });
    var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    return { data: data, series: series };
  }

  function canLog(panel) {
    return panel.tags.every(function (t) {
      return doc.series[t].values.map(num).filter(Number.isFinite).every(function (v) { return v > 0; });
    });
  }

  function build(fig, chart) {
    var id = fig.id, host = fig.querySelector(".chart-host");
    var state = { weight: doc.smoothing, x: "step", log: null, zoom: null };
    var allWall = chart.panels.every(function (p) {
      return p.tags.every(function (t) { var w = doc.series[t].wall; return w && w.every(function (v, i) { return i === 0 || v >= w[i - 1]; }); });
    });
    var downsampled = chart.panels.some(function (p) { return p.tags.some(function (t) { return doc.series[t].downsampled; }); });
    var tools = toolbar(fig, state, allWall, downsampled, function () { draw(); });
    var smoothable = chart.panels.some(function (p) { return p.tags.some(function (t) { return doc.series[t].smooth; }); });
    tools.querySelector(".chart-smoothing").parentElement.hidden = !smoothable;  // nothing here is smoothed
    host.before(tools);
    if (chart.keep_static) {  // the static figure shows more than the chart: keep it, folded, under the chart
      var fold = document.createElement("details"), summary = document.createElement("summary");
      fold.className = "fig-static-fold";
      summary.textContent = chart.keep_static;
      fold.appendChild(summary);
      host.after(fold);
      fold.appendChild(fig.querySelector("img.fig-static"));
    }
    var entry = { fig: fig, state: state, plots: [], panels: chart.panels, redraw: draw };
    api.charts[id] = entry;

    function draw() {
      entry.plots.forEach(function (u) { u.destroy(); });
      host.textContent = "";
      entry.plots = [];
      var width = Math.max(220, Math.floor((host.clientWidth || 900) / (chart.panels.length > 1 ? 3 : 2)) - 12);
      chart.panels.forEach(function (panel) {
        var cell = document.createElement("div");
        cell.className = "chart-panel";
        cell.dataset.search = panel.tags.join(" ") + " " + panel.title;
        var title = document.createElement("div");
        title.className = "chart-panel-title";
        var bad = panel.tags.reduce(function (n, t) { return n + doc.series[t].values.filter(function (v) { return typeof v !== "number"; }).length; }, 0);
        title.textContent = panel.title + (bad ? "  [" + bad + " non-finite, not drawn]" : "");
        cell.appendChild(title);
        host.appendChild(cell);
        var pd = panelData(panel, state);
        var log = state.log === null ? panel.tags.some(function (t) { return doc.series[t].log; }) && canLog(panel) : state.log && canLog(panel);
        var fg = cssVar("--fg") || "#1d2330", grid = cssVar("--border") || "#d9dde4";
        var axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: "11px system-ui, sans-serif" };
        var opts = {
          width: width, height: 190, series: pd.series,
          scales: { x: { time: false }, y: { distr: log ? 3 : 1 } },
          axes: [Object.assign({}, axis), Object.assign({ size: 60, values: ticks }, axis)],
          cursor: { sync: { key: id }, drag: { x: true, y: false, setScale: false } },
          legend: { live: true },
          hooks: { setSelect: [function (u) {
            // a drag selected an x range: zoom every panel of the figure to it (linked x axes)
            if (u.select.width < 2) { return; }
            var min = u.posToVal(u.select.left, "x"), max = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            state.zoom = [min, max];
            entry.plots.forEach(function (o) { o.setScale("x", { min: min, max: max }); });
          }] }
        };
        var u = new uPlot(opts, pd.data, cell);
        u.over.addEventListener("dblclick", function () { entry.resetZoom(); });
        u.over.addEventListener("wheel", function (e) {  // shift + wheel pans the linked x axes
          if (!e.shiftKey) { return; }
          e.preventDefault();
          entry.pan((e.deltaY || e.deltaX) > 0 ? 0.2 : -0.2);
        }, { passive: false });
        u.hjepaPanel = panel;
        u.hjepaLog = log;
        entry.plots.push(u);
      });
      state.zoom = null;
      fig.classList.add("fig-live");
      document.dispatchEvent(new CustomEvent("hjepa:charts-drawn", { detail: id }));
    }
    /* Move the visible x range of every panel by `fraction` of its width (negative: left), within the data. */
    entry.pan = function (fraction) {
      var u = entry.plots[0];
      if (!u) { return; }
      var xs = u.data[0], lo = xs[0], hi = xs[xs.length - 1];
      var min = u.scales.x.min, max = u.scales.x.max, width = max - min;
      var shift = Math.max(lo - min, Math.min(hi - max, fraction * width));
      if (!(width > 0) || shift === 0) { return; }
      state.zoom = [min + shift, max + shift];
      entry.plots.forEach(function (o) { o.setScale("x", { min: min + shift, max: max + shift }); });
    };
    entry.resetZoom = function () {
      entry.plots.forEach(function (u) {
        var xs = u.data[0];
        u.setScale("x", { min: xs[0], max: xs[xs.length - 1] });
      });
      state.zoom = null;
    };
    tools.querySelector(".chart-reset").addEventListener("click", entry.resetZoom);
    tools.querySelector(".chart-pan-left").addEventListener("click", function () { entry.pan(-0.5); });
    tools.querySelector(".chart-pan-right").addEventListener("click", function () { entry.pan(0.5); });
    draw();
  }

  function toolbar(fig, state, allWall, downsampled, redraw) {
    var bar = document.createElement("div");
    bar.className = "chart-tools";
    bar.innerHTML =
      '<label>smoothing <input class="chart-smoothing" type="range" min="0" max="0.99" step="0.01"> <output></output></label>' +
      '<label>y <select class="chart-yscale"><option value="auto">auto</option><option value="linear">linear</option><option value="log">log</option></select></label>' +
      '<label>x <select class="chart-x"><option value="step">step</option></select></label>' +
      '<button type="button" class="chart-pan-left" aria-label="pan left" title="pan left (or shift + wheel)">&larr;</button>' +
      '<button type="button" class="chart-pan-right" aria-label="pan right" title="pan right (or shift + wheel)">&rarr;</button>' +
      '<button type="button" class="chart-reset">reset zoom</button>' +
      '<span class="chart-hint muted">drag to zoom, arrows or shift + wheel to pan, double-click to reset, click a legend entry to hide it</span>';
    var slider = bar.querySelector(".chart-smoothing"), out = bar.querySelector("output");
    slider.value = String(state.weight);
    out.textContent = state.weight.toFixed(2);
    slider.addEventListener("input", function () {
      state.weight = +slider.value;
      out.textContent = state.weight.toFixed(2);
      redraw();
    });
    bar.querySelector(".chart-yscale").addEventListener("change", function (e) {
      state.log = e.target.value === "auto" ? null : e.target.value === "log";
      redraw();
    });
    var xsel = bar.querySelector(".chart-x");
    if (doc.steps_per_epoch) { xsel.insertAdjacentHTML("beforeend", '<option value="epoch">epoch (step / ' + doc.steps_per_epoch + ')</option>'); }
    if (allWall) { xsel.insertAdjacentHTML("beforeend", '<option value="wall">wall time (s)</option>'); } else { xsel.title = "wall time was not logged for every tag"; }
    xsel.disabled = xsel.options.length < 2;
    xsel.addEventListener("change", function (e) { state.x = e.target.value; redraw(); });
    if (downsampled) {
      var note = document.createElement("span");
      note.className = "chart-note muted";
      note.textContent = "Long logs are drawn as min and max per bucket (at most " + doc.display_cap +
        " points a tag); at a smoothing other than the report's " + doc.smoothing + " the kept points are smoothed.";
      bar.appendChild(note);
    }
    return bar;
  }

  var figures = document.querySelectorAll("figure[data-chart]");
  figures.forEach(function (fig) {
    var chart = doc.charts[fig.dataset.chart];
    if (!chart) { return; }
    try { build(fig, chart); } catch (e) { fig.classList.remove("fig-live"); throw e; }
  });
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { Object.keys(api.charts).forEach(function (k) { api.charts[k].redraw(); }); }, 150);
  });
  document.addEventListener("hjepa:theme", function () { Object.keys(api.charts).forEach(function (k) { api.charts[k].redraw(); }); });
})();
