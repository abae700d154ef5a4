"use strict";
(function () {
  var table = document.getElementById("servers-table");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var rank = {"\u274c": 0, "\ud83d\udeab": 1, "\u26a0\ufe0f": 2, "\ud83d\udd12": 3, "\ud83d\udd70\ufe0f": 4, "\u23ed\ufe0f": 5, "\u2705": 6, "\u2013": 7};
  var status = document.getElementById("filter-status");
  var domain = document.getElementById("filter-domain");
  var name = document.getElementById("filter-name");
  var shown = document.getElementById("shown");

  function key(row, column, kind) {
    var value = row.cells[column].getAttribute("data-value") || "";
    if (kind === "number") { return parseFloat(value); }
    if (kind === "rank") { return value in rank ? rank[value] : parseFloat(value) || 0; }
    return value.toLowerCase();
  }

  function sortBy(th) {
    var column = th.cellIndex;
    var kind = th.getAttribute("data-sort");
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.setAttribute("aria-sort", "none"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = key(a, column, kind), y = key(b, column, kind);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function filter() {
    var wantStatus = status.value, wantDomain = domain.value, wantName = name.value.trim().toLowerCase();
    var count = 0;
    rows.forEach(function (row) {
      var domains = (row.getAttribute("data-domains") || "").split(" ");
      var visible = (!wantStatus || row.getAttribute("data-status") === wantStatus) &&
        (!wantDomain || domains.indexOf(wantDomain) >= 0) &&
        (!wantName || row.getAttribute("data-name").toLowerCase().indexOf(wantName) >= 0);
      row.hidden = !visible;
      count += visible ? 1 : 0;
    });
    shown.textContent = count + " of " + rows.length + " shown";
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (event) { if (event.key === "Enter") { sortBy(th); } });
  });
  [status, domain].forEach(function (control) { control.addEventListener("change", filter); });
  name.addEventListener("input", filter);
  document.getElementById("filters").addEventListener("submit", function (event) { event.preventDefault(); });

  // A link may preset the view: #status=fail&domain=math&q=judge&sort=Time&dir=descending
  var preset = {};
  location.hash.replace(/^#/, "").split("&").forEach(function (part) {
    var pair = part.split("=");
    if (pair.length === 2) { preset[pair[0]] = decodeURIComponent(pair[1]); }
  });
  function choose(select, value) {
    Array.prototype.forEach.call(select.options, function (option) { if (option.value === value) { select.value = value; } });
  }
  if (preset.status) { choose(status, preset.status); }
  if (preset.domain) { choose(domain, preset.domain); }
  if (preset.q) { name.value = preset.q; }
  if (preset.sort) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (th.textContent.trim().toLowerCase() === preset.sort.toLowerCase()) {
        th.setAttribute("aria-sort", preset.dir === "descending" ? "ascending" : "none");
        sortBy(th);
      }
    });
  }
  filter();
})();
