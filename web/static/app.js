// Small progressive enhancements; the pages work without JavaScript.
(function () {
  "use strict";
  var box = document.getElementById("q");
  // "/" focuses the search box, as on most search sites.
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && box && document.activeElement !== box &&
        !(e.target && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName))) {
      e.preventDefault();
      box.focus();
      box.select();
    }
  });
})();

// Suggestions under the search box: debounced, from /api/suggest, a
// listbox driven by the arrow keys, Enter and Escape (ARIA combobox).
(function () {
  "use strict";
  var box = document.getElementById("q");
  var list = document.getElementById("suggestions");
  if (!box || !list || !window.fetch) { return; }
  var timer = null, active = -1, items = [], lastQuery = null, controller = null;

  function close() {
    list.hidden = true;
    list.textContent = "";
    box.setAttribute("aria-expanded", "false");
    box.removeAttribute("aria-activedescendant");
    items = [];
    active = -1;
  }

  function highlight(index) {
    items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
    active = index;
    if (index >= 0) { box.setAttribute("aria-activedescendant", items[index].id); }
    else { box.removeAttribute("aria-activedescendant"); }
  }

  function choose(text) {
    box.value = text;
    close();
    box.form.submit();
  }

  function show(suggestions) {
    list.textContent = "";
    items = suggestions.map(function (text, i) {
      var li = document.createElement("li");
      li.id = "suggestion-" + i;
      li.setAttribute("role", "option");
      li.textContent = text;  // text, never HTML
      li.addEventListener("mousedown", function (e) { e.preventDefault(); choose(text); });
      list.appendChild(li);
      return li;
    });
    active = -1;
    list.hidden = items.length === 0;
    box.setAttribute("aria-expanded", items.length ? "true" : "false");
  }

  function fetchSuggestions() {
    var q = box.value.trim();
    if (q === lastQuery) { return; }
    lastQuery = q;
    if (!q || q.length > 50) { close(); return; }
    if (controller) { controller.abort(); }
    controller = window.AbortController ? new AbortController() : null;
    fetch("/api/suggest?q=" + encodeURIComponent(q), controller ? { signal: controller.signal } : {})
      .then(function (r) { return r.ok ? r.json() : { suggestions: [] }; })
      .then(function (data) { if (box.value.trim() === q) { show(data.suggestions || []); } })
      .catch(function () {});
  }

  box.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(fetchSuggestions, 150);
  });
  box.addEventListener("keydown", function (e) {
    if (list.hidden || !items.length) { return; }
    if (e.key === "ArrowDown") { e.preventDefault(); highlight((active + 1) % items.length); }
    else if (e.key === "ArrowUp") { e.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
    else if (e.key === "Enter" && active >= 0) { e.preventDefault(); choose(items[active].textContent); }
    else if (e.key === "Escape") { close(); }
  });
  box.addEventListener("blur", function () { setTimeout(close, 100); });
})();

// The filters are a toggle on phones; wider screens show them open.  CSS
// does that where ::details-content is supported; elsewhere open them here.
(function () {
  "use strict";
  var filters = document.querySelector("details.filters-toggle");
  if (!filters || !window.matchMedia || !window.CSS || CSS.supports("selector(::details-content)")) { return; }
  if (window.matchMedia("(min-width: 761px)").matches) { filters.open = true; }
})();
