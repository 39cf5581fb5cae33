// Small, CSP-friendly behaviour (no inline scripts anywhere; everything hangs off data- attributes).
// Links keep their hrefs, so every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function isTyping(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" ||
      target.tagName === "SELECT" || target.isContentEditable);
  }

  // --- side panel (evidence) ------------------------------------------------------------------
  function panel() { return document.getElementById("side-panel"); }

  function closePanel() {
    const aside = panel();
    if (!aside || !aside.firstElementChild) return false;
    aside.replaceChildren();
    const row = document.querySelector("[data-event-row].is-current");
    if (row) row.focus({ preventScroll: true });
    return true;
  }

  document.addEventListener("click", function (event) {
    const close = event.target.closest("[data-close-panel]");
    if (close && panel() && panel().contains(close)) {
      event.preventDefault();
      closePanel();
    }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    const aside = panel();
    if (aside && (event.detail.target === aside)) {
      const section = aside.querySelector("#evidence-panel");
      if (section) section.focus({ preventScroll: true });
      const hit = aside.querySelector("[data-testid=evidence-hit]");
      if (hit) hit.scrollIntoView({ block: "center" });
    }
  });

  // --- database outage: a partial answered 503 (aiops/outage.py) ------------------------------
  // htmx does not swap error responses, so what was on screen stays; a banner says why it is not
  // updating and goes away with the next successful request (polling partials keep polling).
  var OUTAGE_TEXT = "The database is not reachable right now, usually for a restart that takes " +
    "seconds. This page will catch up by itself.";

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail && event.detail.xhr;
    if (!xhr || xhr.status !== 503) return;
    var banner = document.getElementById("outage-banner");
    if (!banner) {
      banner = document.createElement("div");
      banner.id = "outage-banner";
      banner.setAttribute("role", "alert");
      banner.setAttribute("data-testid", "outage-banner");
      banner.className = "fixed inset-x-0 top-0 z-50 border-b border-amber-200 bg-amber-50 " +
        "px-4 py-2 text-center text-sm text-amber-900";
      document.body.appendChild(banner);
    }
    banner.textContent = OUTAGE_TEXT;
  });

  // --- 429 "too many at once" (a rule dry run, apps/rules/views.py): its partial says why ---
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail && event.detail.xhr && event.detail.xhr.status === 429) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (!event.detail || !event.detail.successful) return;
    var banner = document.getElementById("outage-banner");
    if (banner) banner.remove();
  });

  // --- keyboard: "/" search, j/k events, Enter raw line, Esc close ----------------------------
  function rows() { return Array.from(document.querySelectorAll("[data-event-row]")); }

  function moveRow(delta) {
    const all = rows();
    if (!all.length) return;
    let index = all.findIndex(function (r) { return r.classList.contains("is-current"); });
    if (index >= 0) all[index].classList.remove("is-current");
    index = index < 0 ? (delta > 0 ? 0 : all.length - 1) : Math.max(0, Math.min(all.length - 1, index + delta));
    const row = all[index];
    row.classList.add("is-current");
    row.setAttribute("aria-current", "true");
    all.forEach(function (r) { if (r !== row) r.removeAttribute("aria-current"); });
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (event.key === "Escape") {
      if (closePanel()) { event.preventDefault(); return; }
      if (isTyping(target)) target.blur();
      return;
    }
    if (isTyping(target)) return;
    if (event.key === "/") {
      const search = document.querySelector("[data-search]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
    } else if (event.key === "j" || event.key === "k") {
      event.preventDefault();
      moveRow(event.key === "j" ? 1 : -1);
    } else if (event.key === "Enter" || event.key === "o") {
      const row = document.querySelector("[data-event-row].is-current");
      if (row && (target === row || target === document.body)) {
        const link = row.querySelector("[data-evidence-link]");
        if (link) { event.preventDefault(); link.click(); }
      }
    }
  });

  // --- filters: selects submit their form ------------------------------------------------------
  document.addEventListener("change", function (event) {
    const select = event.target.closest("[data-autosubmit]");
    if (select && select.form) select.form.requestSubmit();
  });

  // --- timeline: drag to zoom a range, click to zoom around a bar ------------------------------
  let drag = null;

  function svgX(svg, clientX) {
    const rect = svg.getBoundingClientRect();
    return (clientX - rect.left) / rect.width * Number(svg.dataset.svgW);
  }

  function timeAt(svg, x) {
    const labelW = Number(svg.dataset.labelW), svgW = Number(svg.dataset.svgW);
    const span = Number(svg.dataset.bucket) * Number(svg.dataset.buckets);
    const fraction = Math.max(0, Math.min(1, (x - labelW) / (svgW - labelW)));
    return new Date((Number(svg.dataset.origin) + fraction * span) * 1000);
  }

  function zoomTo(from, to) {
    const form = document.getElementById("filters");
    if (!form) return false;
    form.querySelector("[data-zoom-from]").value = from;
    form.querySelector("[data-zoom-to]").value = to;
    form.requestSubmit();
    return true;
  }

  document.addEventListener("mousedown", function (event) {
    const svg = event.target.closest("svg[data-timeline]");
    if (!svg || event.button !== 0) return;
    event.preventDefault();
    const x = svgX(svg, event.clientX);
    drag = { svg: svg, x0: x, x1: x, moved: false };
  });

  document.addEventListener("mousemove", function (event) {
    if (!drag) return;
    drag.x1 = svgX(drag.svg, event.clientX);
    if (Math.abs(drag.x1 - drag.x0) > 4) drag.moved = true;
    const sel = drag.svg.querySelector("[data-zoom-selection]");
    if (sel && drag.moved) {
      const labelW = Number(drag.svg.dataset.labelW), svgW = Number(drag.svg.dataset.svgW);
      const a = Math.max(labelW, Math.min(drag.x0, drag.x1));
      const b = Math.min(svgW, Math.max(drag.x0, drag.x1));
      sel.setAttribute("x", a);
      sel.setAttribute("width", Math.max(0, b - a));
      sel.setAttribute("visibility", "visible");
    }
  });

  document.addEventListener("mouseup", function () {
    if (!drag) return;
    const current = drag;
    drag = null;
    if (!current.moved) return; // a click: handled by the click listener below
    current.svg.dataset.dragged = "1";
    const a = timeAt(current.svg, Math.min(current.x0, current.x1));
    const b = timeAt(current.svg, Math.max(current.x0, current.x1));
    if (b - a >= 1000) zoomTo(a.toISOString(), b.toISOString());
  });

  document.addEventListener("click", function (event) {
    const svg = event.target.closest("svg[data-timeline]");
    if (!svg) return;
    event.preventDefault();
    if (svg.dataset.dragged) { delete svg.dataset.dragged; return; }
    const bar = event.target.closest("a[data-zoom-from]");
    if (bar) {
      zoomTo(bar.dataset.zoomFrom, bar.dataset.zoomTo);
      return;
    }
    // a click between bars: zoom to a tenth of the range around that point
    const x = svgX(svg, event.clientX);
    if (x < Number(svg.dataset.labelW)) return;
    const t = timeAt(svg, x).getTime();
    const span = Number(svg.dataset.bucket) * Number(svg.dataset.buckets) * 1000 / 10;
    zoomTo(new Date(t - span / 2).toISOString(), new Date(t + span / 2).toISOString());
  });

  // --- live updates: when the last ingest job finishes, refresh the whole incident page -------
  document.addEventListener("ingest-progress", function (event) {
    const page = document.querySelector("[data-incident-page][data-live]");
    if (!page || !event.detail || event.detail.active !== false || !window.htmx) return;
    page.removeAttribute("data-live");
    window.htmx.ajax("GET", window.location.pathname + window.location.search, {
      target: "#incident-page", select: "#incident-page", swap: "outerHTML",
    });
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

// Stream histogram: drag across the bars (or click one; shift-click extends) to fill the
// range form below it; the form itself is the keyboard's way (and a bar is a link without JS).
(function () {
  let drag = null;

  function barAt(svg, clientX) {
    const bars = svg.querySelectorAll("a[data-range-start]");
    const rect = svg.getBoundingClientRect();
    const i = Math.floor((clientX - rect.left) / rect.width * bars.length);
    return bars[Math.max(0, Math.min(bars.length - 1, i))];
  }

  function select(svg, a, b) {
    const bars = Array.from(svg.querySelectorAll("a[data-range-start]"));
    const i = bars.indexOf(a), j = bars.indexOf(b);
    const first = bars[Math.min(i, j)], last = bars[Math.max(i, j)];
    const form = document.getElementById("stream-range");
    if (!form || !first || !last) return;
    form.querySelector("[name=start]").value = first.dataset.rangeStart;
    form.querySelector("[name=end]").value = last.dataset.rangeEnd;
    const sel = svg.querySelector("[data-range-selection]");
    if (sel) {
      const step = Number(svg.dataset.svgW) / bars.length;
      sel.setAttribute("x", Math.min(i, j) * step);
      sel.setAttribute("width", (Math.abs(j - i) + 1) * step);
      sel.setAttribute("visibility", "visible");
    }
    svg.dataset.anchor = String(Math.min(i, j));
  }

  document.addEventListener("mousedown", function (event) {
    const svg = event.target.closest("svg[data-stream-histogram]");
    if (!svg || event.button !== 0) return;
    event.preventDefault();
    const bar = barAt(svg, event.clientX);
    const bars = svg.querySelectorAll("a[data-range-start]");
    const anchor = event.shiftKey && svg.dataset.anchor ? bars[Number(svg.dataset.anchor)] : bar;
    drag = { svg: svg, from: anchor };
    select(svg, anchor, bar);
  });

  document.addEventListener("mousemove", function (event) {
    if (drag) select(drag.svg, drag.from, barAt(drag.svg, event.clientX));
  });

  document.addEventListener("mouseup", function () { drag = null; });

  document.addEventListener("click", function (event) {
    const svg = event.target.closest("svg[data-stream-histogram]");
    if (!svg) return;
    event.preventDefault();
    const bar = event.target.closest("a[data-range-start]");
    if (bar && event.detail === 0) select(svg, bar, bar); // Enter on a focused bar
  });
})();
