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
