// Producer pickers: an input with data-producer-search gets a <datalist> filled from
// /producers/search.json as the user types a name, code, town or phone; the value stays the code.
// Plain script, no framework; without it the field still takes a typed code.
(function () {
  "use strict";
  function attach(input, n) {
    var list = document.createElement("datalist");
    list.id = "producer-search-" + n;
    input.setAttribute("list", list.id);
    input.setAttribute("autocomplete", "off");
    input.parentNode.appendChild(list);
    var timer = null, last = "";
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (q === last || q.length < 1) { return; }
      last = q;
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(input.getAttribute("data-producer-search") + "?q=" + encodeURIComponent(q),
              {credentials: "same-origin", headers: {"Accept": "application/json"}})
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (rows) {
            while (list.firstChild) { list.removeChild(list.firstChild); }
            rows.forEach(function (row) {
              var option = document.createElement("option");
              option.value = row.code;
              option.label = row.label;
              option.textContent = row.label;
              list.appendChild(option);
            });
          })
          .catch(function () {});
      }, 200);
    });
  }
  var inputs = document.querySelectorAll("input[data-producer-search]");
  for (var i = 0; i < inputs.length; i++) { attach(inputs[i], i); }
})();
