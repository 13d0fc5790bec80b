/* Sort the index table by a column: click its header; numbers compare as numbers, empty cells go last. */
(function () {
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = Array.prototype.slice.call(table.querySelectorAll("thead th"));
    var body = table.tBodies[0];
    function key(row, col) {
      var cell = row.cells[col];
      var raw = cell ? (cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent.trim()) : "";
      var num = raw === "" ? NaN : Number(raw);
      return { empty: raw === "", num: num, text: raw };
    }
    function compare(a, b) {
      if (a.empty || b.empty) { return a.empty === b.empty ? 0 : (a.empty ? 1 : -1); }
      if (!isNaN(a.num) && !isNaN(b.num)) { return a.num - b.num; }
      return a.text.localeCompare(b.text, undefined, { numeric: true, sensitivity: "base" });
    }
    headers.forEach(function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows).map(function (row, i) { return [key(row, col), i, row]; });
        rows.sort(function (x, y) {
          var c = compare(x[0], y[0]);
          if (c !== 0 && !(x[0].empty || y[0].empty)) { c = ascending ? c : -c; }
          return c !== 0 ? c : x[1] - y[1];
        });
        rows.forEach(function (r) { body.appendChild(r[2]); });
      });
    });
  });
})();
