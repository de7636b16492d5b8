// Tables become cards on phones (see app.css): each cell gets its column's name as data-label.
// Plain DOM, no framework; without it the cards still show, only without the column names.
(function () {
  function label(table) {
    var heads = table.querySelectorAll("thead th");
    if (!heads.length) return;
    var names = Array.prototype.map.call(heads, function (th) { return th.textContent.trim(); });
    Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (tr) {
      var col = 0;
      Array.prototype.forEach.call(tr.children, function (cell) {
        if (names[col] && !cell.hasAttribute("data-label") && !cell.hasAttribute("colspan")) {
          cell.setAttribute("data-label", names[col]);
        }
        col += cell.colSpan || 1;
      });
    });
  }
  function all() { Array.prototype.forEach.call(document.querySelectorAll("table.table"), label); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", all); else all();
})();
// A button marked data-confirm asks before its form is sent (召回/撤回: an action that cannot be undone).
document.addEventListener("submit", function (event) {
  var button = event.submitter || event.target.querySelector("[data-confirm]");
  var text = button && button.getAttribute("data-confirm");
  if (text && !window.confirm(text)) event.preventDefault();
});
