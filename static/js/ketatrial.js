// Inactivity: the server signs the user out after the timeout without a request.
// - Typing, clicking or choosing in a page counts as activity: it renews the session through the
//   keep-alive view (at most once per `throttle`), so a rater scoring a long form stays signed in.
// - Shortly before the time is up a warning with a "Stay signed in" button appears.
// - When the time is up the page leaves for the sign-in page, so that a screen left open does not
//   keep showing clinical data. A page with an unsaved entry may take over first (the rating form
//   sends its entry, which the server keeps for the same user: ketatrial/form_stash.py).
// Tabs of the same browser share one session: they share the time of its last renewal too.
(function () {
  const body = document.body;
  const seconds = parseInt(body.dataset.inactivitySeconds || "0", 10);
  if (!seconds) return;
  const timeout = seconds * 1000;
  const throttle = Math.min(60, Math.max(1, seconds / 6)) * 1000;
  const warnBefore = Math.min(120, Math.max(2, seconds / 4)) * 1000;
  // Renewing too close to the end could arrive after the server's deadline: treat that as late.
  const margin = Math.min(3000, timeout / 10);
  const grace = 5000; // the server's clock started no earlier than ours: leave only once it has surely expired
  const KEY = "ketatrial-last-renewed";
  const warning = document.getElementById("inactivity-warning");
  const countdown = document.getElementById("inactivity-countdown");
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
  // This page's own request renewed the session when the server received it, after the browser
  // started navigating: count from the start, never later than the server does.
  let renewed = Math.floor(performance.timeOrigin || Date.now());
  let lastPing = 0;
  let over = false;

  const share = (t) => { try { localStorage.setItem(KEY, String(t)); } catch (e) { /* private mode */ } };
  const shared = () => { try { return Number(localStorage.getItem(KEY)) || 0; } catch (e) { return 0; } };
  const lastRenewed = () => Math.max(renewed, shared());
  share(renewed);

  function hideWarning() { if (warning) warning.hidden = true; }
  function showWarning(left) {
    if (!warning) return;
    const s = Math.max(0, Math.ceil((left - margin) / 1000)); // the time "Stay signed in" still renews
    countdown.textContent = Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
    warning.hidden = false;
  }

  function renew() {
    if (!body.dataset.keepaliveUrl || !csrf) return Promise.resolve(false);
    const sent = Date.now(); // the server renews on arrival, after this
    lastPing = sent;
    return fetch(body.dataset.keepaliveUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrf.value },
      credentials: "same-origin",
      redirect: "manual", // an expired session answers with the sign-in page: not a renewal
    }).then((r) => {
      if (!r.ok || !(r.headers.get("Content-Type") || "").includes("json")) return false;
      renewed = sent;
      share(sent);
      hideWarning();
      return true;
    }).catch(() => false);
  }

  function end() {
    if (over) return;
    over = true;
    clearInterval(ticking);
    const event = new CustomEvent("ketatrial:inactivity-timeout", { cancelable: true });
    if (!document.dispatchEvent(event)) return; // the page keeps its entry its own way
    window.location.href = body.dataset.logoutUrl + "?next=" + encodeURIComponent(window.location.pathname);
  }

  function onActivity() {
    if (over) return;
    const left = lastRenewed() + timeout - Date.now();
    if (left <= margin) return; // too late to renew safely: the warning is showing, the end follows
    if (Date.now() - lastPing >= throttle) renew();
  }

  function tick() {
    const left = lastRenewed() + timeout - Date.now();
    if (left <= -grace) end();
    else if (left <= warnBefore) showWarning(left);
    else hideWarning();
  }

  ["keydown", "pointerdown", "input", "change"].forEach((e) =>
    document.addEventListener(e, onActivity, { passive: true, capture: true })
  );
  const stay = document.getElementById("inactivity-stay");
  // Renewing an expired session would sign it out without keeping the page's entry: near the end,
  // "Stay signed in" ends the session the careful way instead (the page keeps its entry).
  if (stay) stay.addEventListener("click", () => {
    if (over) return;
    if (lastRenewed() + timeout - Date.now() > margin) renew();
    else end();
  });
  const ticking = setInterval(tick, 1000);
})();

// A sticky bar at the top of the page (the rating form's live total) must not cover the focused
// item: the page's scroll padding (static/css/ketatrial.css) follows the bar's height.
(function () {
  const bar = document.querySelector("main .sticky-top");
  if (!bar) return;
  const root = document.documentElement;
  const follow = () => root.style.setProperty("--kt-sticky-height", bar.offsetHeight + "px");
  follow();
  if (window.ResizeObserver) new ResizeObserver(follow).observe(bar);
})();

// A form's error summary (templates/_error_summary.html) takes the focus when the page opens, so a
// screen reader announces it first; each of its links moves the focus to its field (following a
// link to "#id" alone would only scroll), with the field's label in view.
(function () {
  const summary = document.querySelector("[data-error-summary]");
  if (!summary) return;
  summary.focus();
  summary.addEventListener("click", (e) => {
    const link = e.target.closest("a[href^='#']");
    const field = link && document.getElementById(link.getAttribute("href").slice(1));
    if (!field) return;
    e.preventDefault();
    (field.closest("fieldset, .mb-3") || field).scrollIntoView();
    field.focus({ preventScroll: true });
  });
})();

// Unsaved changes: leaving a page whose form holds an entry not yet saved asks first (the
// browser's own prompt). Saving (a submit), the inactivity sign-out (which keeps the entry itself,
// see above) and forms marked data-no-unsaved-prompt (filters, the language menu) never ask.
(function () {
  const forms = Array.from(document.querySelectorAll("form")).filter(
    (f) =>
      (f.method || "").toLowerCase() === "post" &&
      !f.hasAttribute("data-no-unsaved-prompt") &&
      f.querySelector("input:not([type=hidden]):not([type=submit]):not([type=button]), textarea, select")
  );
  if (!forms.length) return;
  const dirty = new Set();
  let leaving = false;
  forms.forEach((f) => {
    const mark = () => dirty.add(f);
    f.addEventListener("input", mark);
    f.addEventListener("change", mark);
    f.addEventListener("submit", () => { leaving = true; });
  });
  // Capture: before the rating form's own handler sends its entry to be kept.
  document.addEventListener("ketatrial:inactivity-timeout", () => { leaving = true; }, { capture: true });
  window.addEventListener("beforeunload", (e) => {
    if (leaving || dirty.size === 0) return;
    e.preventDefault();
    e.returnValue = "";
  });
})();
