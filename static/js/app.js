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

// Copy buttons: <button data-copy-target="id"> copies the text of element #id.
document.addEventListener("click", function (event) {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.getAttribute("data-copy-target"));
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  if (navigator.clipboard) {
    navigator.clipboard.writeText(text).then(function () { button.textContent = "Copied"; });
  }
});
