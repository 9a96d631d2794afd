// Rating form: live total and keyboard entry (digit = score, then the next item).
(function () {
  const form = document.getElementById("rating-form");
  if (!form) return;
  const groups = Array.from(form.querySelectorAll(".item-group"));
  const hdrs = form.dataset.instrument === "hdrs17";
  const totalEl = document.getElementById("live-total");
  const missingEl = document.getElementById("live-missing");
  form.querySelectorAll(".rating-meta select, .rating-meta input[type=text], .rating-meta input[type=datetime-local]").forEach((el) => el.classList.add("form-control"));
  function update() {
    let total = 0, missing = 0;
    let item16 = 0;
    groups.forEach((g) => {
      const name = g.dataset.field;
      const checked = g.querySelector("input:checked");
      if (hdrs && (name === "item_16A" || name === "item_16B")) {
        if (checked) { item16 += 1; total += Number(checked.value) === 3 ? 0 : Number(checked.value); }
        return;
      }
      if (checked) total += Number(checked.value); else missing += 1;
    });
    if (hdrs && item16 === 0) missing += 1;
    totalEl.textContent = missing ? total + " (" + missing + " missing)" : String(total);
    missingEl.textContent = hdrs && item16 > 1 ? "Rate 16A or 16B, not both" : "";
  }
  groups.forEach((g, i) => {
    g.addEventListener("keydown", (e) => {
      if (!/^[0-9]$/.test(e.key)) return;
      const radio = g.querySelector('input[value="' + e.key + '"]');
      if (!radio) return;
      e.preventDefault();
      radio.checked = true;
      update();
      const next = groups[i + 1] || form.querySelector("#id_rated_at");
      if (next) next.focus();
    });
  });
  form.addEventListener("change", update);
  update();
})();
