// Rating form: live total and keyboard entry (digit = score, then the next item).
(function () {
  const form = document.getElementById("rating-form");
  if (!form) return;
  const groups = Array.from(form.querySelectorAll(".item-group"));
  // The scale comes from the page (clinimetry/scales.py): groups of items rated one way or another
  // (HDRS-17 item 16 as 16A or 16B) count once, and an entry meaning "not assessed" is missing.
  const alternatives = JSON.parse(form.dataset.alternatives || "[]");
  const notAssessed = JSON.parse(form.dataset.notAssessed || "{}");
  const inGroup = {};
  alternatives.forEach((group, n) => group.forEach((name) => { inGroup[name] = n; }));
  const totalEl = document.getElementById("live-total");
  const missingEl = document.getElementById("live-missing");
  form.querySelectorAll(".rating-meta select, .rating-meta input[type=text], .rating-meta input[type=datetime-local]").forEach((el) => el.classList.add("form-control"));
  // Items rated one way or another (16A/16B): once one is scored, the others are not applicable
  // (the form would refuse both), so their radios are disabled and keyboard entry skips them;
  // clearing the scored one frees them again. Two scored (a refused entry shown again): both
  // stay free so that the rater can clear one.
  function syncAlternatives() {
    alternatives.forEach((names) => {
      const members = names.map((name) => groups.find((g) => g.dataset.field === name)).filter(Boolean);
      const scored = members.filter((g) => g.querySelector("input:checked"));
      members.forEach((g) => {
        const other = scored.length === 1 && scored[0] !== g ? scored[0] : null;
        g.querySelectorAll("input[type=radio]").forEach((r) => { r.disabled = Boolean(other); });
        g.querySelector(".item-clear").disabled = Boolean(other);
        g.dataset.inactive = other ? "1" : "";
        g.tabIndex = other ? -1 : 0;
        if (other) g.setAttribute("aria-disabled", "true"); else g.removeAttribute("aria-disabled");
        const note = g.querySelector(".item-instead");
        note.hidden = !other;
        note.textContent = other
          ? (form.dataset.insteadLabel || "Not rated: item %s is rated instead.").replace(
              "%s", other.dataset.field.replace("item_", ""))
          : "";
      });
    });
  }
  function clearGroup(g) {
    g.querySelectorAll("input:checked").forEach((r) => { r.checked = false; });
    g.dispatchEvent(new Event("change", { bubbles: true }));
  }
  function update() {
    syncAlternatives();
    let total = 0, missing = 0;
    const rated = alternatives.map(() => 0);
    const chosen = alternatives.map(() => 0);
    groups.forEach((g) => {
      const name = g.dataset.field;
      const checked = g.querySelector("input:checked");
      const value = checked ? Number(checked.value) : null;
      const points = value === null || notAssessed[name] === value ? 0 : value;
      if (name in inGroup) {
        // "Not assessed" (16A/16B: 3) is a missing item, as the saved score has it (prorated).
        if (checked && notAssessed[name] !== value) { rated[inGroup[name]] += 1; total += points; }
        else if (checked) { chosen[inGroup[name]] += 1; }
        return;
      }
      if (checked) total += points; else missing += 1;
    });
    rated.forEach((n) => { if (n === 0) missing += 1; });
    const text = form.dataset;
    totalEl.textContent = missing
      ? total + " (" + (text.missingLabel || "%s missing").replace("%s", missing) + ")"
      : String(total);
    const twice = alternatives.filter((group, n) => rated[n] + chosen[n] > 1);
    missingEl.textContent = twice.length
      ? (text.bothLabel || "Rate %s, not both").replace(
          "%s", twice.map((group) => group.map((name) => name.replace("item_", "")).join(" / ")).join(", "))
      : "";
  }
  groups.forEach((g, i) => {
    g.addEventListener("keydown", (e) => {
      if (g.dataset.inactive === "1") return;
      if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        clearGroup(g);
        g.focus();
        return;
      }
      if (!/^[0-9]$/.test(e.key)) return;
      const radio = g.querySelector('input[value="' + e.key + '"]');
      if (!radio || radio.disabled) return;
      e.preventDefault();
      radio.checked = true;
      // As a click would: the live total, the unsaved mark and the session renewal follow it.
      radio.dispatchEvent(new Event("change", { bubbles: true }));
      // The next item that can be rated: after 16A, item 17 (16B is not applicable now).
      const next = groups.slice(i + 1).find((n) => n.dataset.inactive !== "1") || form.querySelector("#id_rated_at");
      if (next) next.focus();
    });
    g.querySelector(".item-clear").addEventListener("click", () => {
      clearGroup(g);
      g.focus();
    });
  });
  form.addEventListener("change", update);
  update();
  // Keyboard entry works from here on (a digit typed before this script ran would be lost).
  form.dataset.ready = "1";

  // Enter in a radio, the date or a text field would submit the form (the browser's implicit
  // submission): a rating is saved with the Save button only.
  form.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    const t = e.target;
    if (t.tagName === "TEXTAREA" || t.tagName === "BUTTON") return;
    if (t.tagName === "INPUT" && (t.type === "submit" || t.type === "button")) return;
    e.preventDefault();
  });

  // When the inactivity time is up (ketatrial.js), an entry not yet saved is sent to be kept,
  // never saved: the server keeps it for this rater until they sign in again
  // (ketatrial/form_stash.py) and then shows it again for review.
  let unsaved = form.dataset.unsaved === "1";
  form.addEventListener("change", () => { unsaved = true; });
  form.addEventListener("input", () => { unsaved = true; });
  document.addEventListener("ketatrial:inactivity-timeout", (e) => {
    if (!unsaved) return;
    e.preventDefault();
    const keepOnly = document.createElement("input");
    keepOnly.type = "hidden";
    keepOnly.name = "keep_only";
    keepOnly.value = "1";
    form.appendChild(keepOnly);
    form.submit();
  });
})();
