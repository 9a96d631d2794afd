// Inactivity: the server signs the user out after the timeout; the page follows so that a
// screen left open does not keep showing clinical data.
(function () {
  const body = document.body;
  const seconds = parseInt(body.dataset.inactivitySeconds || "0", 10);
  if (!seconds) return;
  let timer;
  const reset = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { window.location.href = body.dataset.logoutUrl + "?next=" + encodeURIComponent(window.location.pathname); }, (seconds + 5) * 1000);
  };
  ["keydown", "click", "touchstart"].forEach((e) => document.addEventListener(e, reset, { passive: true }));
  reset();
})();
