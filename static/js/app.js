// Small, CSP-friendly behaviour (no inline scripts anywhere). Keyboard shortcuts live here.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    const target = event.target;
    const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable);
    if (event.key === "/" && !typing) {
      const search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); }
    }
  });
})();
