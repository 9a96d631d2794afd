"""The efficacy report's tables, built from a stored run's numbers at display time (so they
read in the viewer's language): each table names its estimand, analysis set and method, then
estimate, 95 % CI, p and n analysed of n in the set, as a journal prints them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

SCALE_NAMES = {"hdrs17": "HDRS-17", "madrs": "MADRS"}
SET_NAMES = {
    "itt": "ITT",
    "mitt": "mITT",
    "per_protocol": "PP",
    "safety": "Safety",
}


@dataclass
class Table:
    key: str
    title: str
    estimand: str
    analysis_set: str
    method: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}"


def pval(value: Any) -> str:
    if value is None:
        return "—"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def ci(estimate: Any, low: Any, high: Any, digits: int = 2) -> str:
    if estimate is None:
        return "—"
    if low is None or high is None:
        return num(estimate, digits)
    interval = _("%(low)s to %(high)s") % {"low": num(low, digits), "high": num(high, digits)}
    return f"{num(estimate, digits)} ({interval})"


def _reason(text: str) -> str:
    """An exclusion reason of the analysis (stored in English, outcomes/sap), in the reader's
    language."""
    from outcomes.sap import sets, survival

    words = {
        sets.NOT_RANDOMIZED: _("not randomized"),
        sets.NO_INFUSION: _("no infusion given"),
        sets.NO_POST_BASELINE: _("no post-baseline rating"),
        sets.MISSED_INFUSION_1: _("infusion 1 of period 1 not given"),
        sets.PRIMARY_OUT_OF_WINDOW: _("primary rating out of window"),
        sets.UNBLINDED_BEFORE_PRIMARY: _("emergency unblinding before the primary rating"),
        survival.NO_END: _("no recorded end of the last study infusion"),
        survival.RELAPSE_BEFORE: _("relapse before follow-up started"),
        survival.NO_FOLLOW_UP: _("no follow-up rating yet"),
        survival.NO_SEQUENCE: _("not randomized"),
    }
    if text.startswith(sets.MAJOR_DEVIATION):
        return _("major protocol deviation (deviation log)") + text[len(sets.MAJOR_DEVIATION) :]
    return str(words.get(text, text))


def frac(k: Any, n: Any) -> str:
    if not n:
        return f"{k or 0}/{n or 0}"
    return f"{k}/{n} ({100 * k / n:.0f} %)"


def _nnt(n: dict[str, Any] | None) -> str:
    if not n or n.get("estimate") is None:
        return "—"
    kind = _("benefit") if n["kind"] == "benefit" else _("harm")
    if n.get("through_infinity"):
        parts = []
        if n.get("benefit_from") is not None:
            parts.append(_("benefit from %(x)s") % {"x": num(n["benefit_from"], 1)})
        if n.get("harm_from") is not None:
            parts.append(_("harm from %(x)s") % {"x": num(n["harm_from"], 1)})
        return f"{num(n['estimate'], 1)} ({kind}; " + " … ∞ … ".join(parts) + ")"
    return f"{num(n['estimate'], 1)} ({kind}; {num(n['low'], 1)} to {num(n['high'], 1)})"


def _sets(r: dict[str, Any]) -> Table:
    t = Table(
        "sets",
        _("Analysis sets"),
        "",
        "",
        _("Every randomized participant outside a set is counted with the reason."),
        [_("Set"), _("n"), _("Left out (reason: n)")],
    )
    for name, s in r.get("sets", {}).items():
        reasons = (
            "; ".join(f"{_reason(reason)}: {n}" for reason, n in s.get("excluded_by_reason", {}).items())
            or "—"
        )
        t.rows.append([SET_NAMES.get(name, name), str(s["n"]), reasons])
    return t


def _primary_rows(block: dict[str, Any]) -> list[list[str]]:
    rows = []
    for scale, x in block.items():
        rows.append(
            [
                SCALE_NAMES.get(scale, scale),
                frac(x["responders_ketamine"], x["n_ketamine"]),
                frac(x["responders_placebo"], x["n_placebo"]),
                ci(x.get("risk_difference"), x.get("ci95_low"), x.get("ci95_high"), 3),
                ci(x.get("odds_ratio"), x.get("odds_ratio_low"), x.get("odds_ratio_high")),
                _nnt(x.get("nnt")),
                pval(x.get("fisher_p")),
                pval(x.get("fisher_p_holm")),
            ]
        )
    return rows


def _primary(r: dict[str, Any]) -> list[Table]:
    header = [
        _("Scale"),
        _("Ketamine"),
        _("Placebo"),
        _("Risk difference (95 % CI)"),
        _("Odds ratio (95 % CI)"),
        _("NNT (95 % CI)"),
        _("Fisher p"),
        _("Holm p"),
    ]
    estimand = _(
        "Proportion responding (total <= 50 % of baseline) at any rating within 24 h after the end "
        "of infusion 1 of period 1, ketamine minus placebo"
    )
    method = _(
        "Newcombe hybrid score interval; Fisher's exact test (two-sided); Woolf interval for the "
        "odds ratio (0.5 added to every cell when one is empty); NNT after Altman; Holm across "
        "the two scales"
    )
    main = Table(
        "primary", _("Primary outcome"), estimand, "ITT", method, header, _primary_rows(r.get("primary", {}))
    )
    main.notes.append(_("A participant without a rating in the window counts as a non-responder."))
    pp = Table(
        "primary_pp",
        _("Primary outcome, per-protocol set (sensitivity)"),
        estimand,
        "PP",
        method,
        header,
        _primary_rows(r.get("primary_per_protocol", {})),
    )
    tipping = Table(
        "tipping",
        _("Primary outcome: tipping-point analysis of the missing ratings (sensitivity)"),
        estimand,
        "ITT",
        _("Fisher's exact test for every number of missing ratings imputed as responses in each arm"),
        [
            _("Scale"),
            _("Missing, ketamine / placebo"),
            _("Outcomes significant at 0.05"),
            _("Worst case for ketamine: RD (p)"),
            _("Best case for ketamine: RD (p)"),
        ],
    )
    for scale, x in r.get("primary", {}).items():
        tp = x.get("tipping_point")
        if not tp:
            continue
        tipping.rows.append(
            [
                SCALE_NAMES.get(scale, scale),
                f"{tp['missing_ketamine']} / {tp['missing_placebo']}",
                f"{tp['significant_cells']} / {tp['cells']}",
                f"{num(tp['worst_case']['risk_difference'], 3)} ({pval(tp['worst_case']['fisher_p'])})",
                f"{num(tp['best_case']['risk_difference'], 3)} ({pval(tp['best_case']['fisher_p'])})",
            ]
        )
    return [main, pp, tipping]


def _longitudinal(r: dict[str, Any]) -> list[Table]:
    tables = []
    for scale, m in r.get("longitudinal", {}).items():
        t = Table(
            f"longitudinal_{scale}",
            _("Change from baseline over period 1: %(scale)s") % {"scale": SCALE_NAMES.get(scale, scale)},
            _(
                "Mean change from baseline, ketamine minus placebo, at each scheduled period-1 timepoint and averaged over them"
            ),
            "mITT",
            _(
                "Baseline total as covariate; timepoints in schedule order; the pre-dose rating of "
                "infusion 1 is not a post-baseline point. GEE (exchangeable, robust SE) and linear "
                "mixed model (REML, random intercept and slope) side by side; Wald 95 % CIs"
            ),
            [
                _("Timepoint"),
                _("Observed change, ketamine (n)"),
                _("Observed change, placebo (n)"),
                _("GEE: difference (95 % CI)"),
                _("GEE p"),
                _("Mixed model: difference (95 % CI)"),
                _("Mixed model p"),
            ],
        )
        if not m.get("fitted"):
            t.notes.append(_("Not fitted: %(reason)s") % {"reason": m.get("reason", "")})
        gee = {e["timepoint"]: e for e in (m.get("gee") or {}).get("per_timepoint", [])}
        mixed = {e["timepoint"]: e for e in (m.get("mixed") or {}).get("per_timepoint", [])}
        for obs in m.get("observed_means", []):
            tp = obs["timepoint"]
            g, x = gee.get(tp, {}), mixed.get(tp, {})
            t.rows.append(
                [
                    tp,
                    f"{num(obs['ketamine_mean'], 1)} ({obs['ketamine_n']})",
                    f"{num(obs['placebo_mean'], 1)} ({obs['placebo_n']})",
                    ci(g.get("estimate"), g.get("low"), g.get("high")),
                    pval(g.get("p")),
                    ci(x.get("estimate"), x.get("low"), x.get("high")),
                    pval(x.get("p")),
                ]
            )
        ga, xa = (m.get("gee") or {}).get("average", {}), (m.get("mixed") or {}).get("average", {})
        if ga or xa:
            t.rows.append(
                [
                    _("Average over timepoints"),
                    "",
                    "",
                    ci(ga.get("estimate"), ga.get("low"), ga.get("high")),
                    pval(ga.get("p")),
                    ci(xa.get("estimate"), xa.get("low"), xa.get("high")),
                    pval(xa.get("p")),
                ]
            )
        if m.get("mixed", {}).get("model"):
            t.notes.append(m["mixed"]["model"])
        g24 = m.get("hedges_g_24h") or {}
        if g24.get("estimate") is not None:
            t.notes.append(
                _("Hedges' g at 24 h after infusion 1: %(g)s (n = %(n1)s and %(n2)s)")
                % {"g": ci(g24["estimate"], g24["low"], g24["high"]), "n1": g24["n1"], "n2": g24["n2"]}
            )
        for d in m.get("dropped_timepoints", []):
            t.notes.append(
                _("Left out (fewer than %(k)s ratings in an arm): %(tp)s, %(a)s and %(b)s")
                % {"k": m.get("min_per_arm"), "tp": d["timepoint"], "a": d["n_ketamine"], "b": d["n_placebo"]}
            )
        if m.get("mmrm"):
            t.notes.append(m["mmrm"])
        tables.append(t)
    return tables


def _crossover(r: dict[str, Any]) -> list[Table]:
    t = Table(
        "crossover",
        _(
            "Period 2's comparable part: the 2 x 2 crossover at 4 h and 24 h after the first infusion of each period"
        ),
        _(
            "Within-participant difference ketamine minus placebo in change (continuous) and in response (binary)"
        ),
        "mITT",
        _(
            "Hills-Armitage t-test on the period differences; Mainland-Gart (Fisher) and Prescott "
            "tests for response; carry-over shown descriptively only (no two-stage procedure)"
        ),
        [
            _("Scale, time, measured from"),
            _("n (KP / PK)"),
            _("Treatment effect (95 % CI)"),
            _("p"),
            _("Period effect (95 % CI)"),
            _("Carry-over, descriptive (95 % CI)"),
            _("Mainland-Gart p"),
            _("Prescott p"),
        ],
    )
    refs = {"predose": _("own pre-dose"), "baseline": _("study baseline (sensitivity)")}
    for scale, per in r.get("crossover", {}).items():
        for hours, entry in per.items():
            for ref, x in entry.items():
                c = x["continuous"]
                tr, pe, co = c["treatment"], c["period"], c["carry_over_descriptive"]
                t.rows.append(
                    [
                        f"{SCALE_NAMES.get(scale, scale)}, {hours}, {refs.get(ref, ref)}",
                        f"{c['n_kp']} / {c['n_pk']}",
                        ci(tr.get("estimate"), tr.get("low"), tr.get("high")),
                        pval(tr.get("p")),
                        ci(pe.get("estimate"), pe.get("low"), pe.get("high")),
                        ci(co.get("estimate"), co.get("low"), co.get("high")),
                        pval(x["binary"]["mainland_gart"].get("fisher_p")),
                        pval(x["binary"]["prescott"].get("p")),
                    ]
                )
    return [t]


def _relapse(r: dict[str, Any]) -> list[Table]:
    tables = []
    for key, x in r.get("relapse", {}).items():
        title = _("Time to relapse") if key == "main" else _("Time to relapse (sensitivity population)")
        t = Table(
            f"relapse_{key}",
            title,
            _("Time from the start of follow-up (end of the last study infusion) to relapse, by sequence"),
            _("Responders: %(definition)s") % {"definition": x.get("definition", "")},
            _(
                "Kaplan-Meier with Greenwood log(-log) 95 % CIs; median with its CI; log-rank test; Cox "
                "model (Breslow ties) with and without the time since the last ketamine infusion"
            ),
            [_("Sequence"), _("n"), _("Relapses"), _("Median, days (95 % CI)")],
        )
        for seq, curve in x.get("curves", {}).items():
            t.rows.append(
                [
                    seq,
                    str(curve["n"]),
                    str(curve["events"]),
                    ci(curve.get("median"), curve.get("median_low"), curve.get("median_high"), 1),
                ]
            )
        lr = x.get("log_rank") or {}
        if lr.get("p") is not None:
            t.notes.append(
                _("Log-rank χ² = %(chi2)s, p = %(p)s") % {"chi2": num(lr["chi2"]), "p": pval(lr["p"])}
            )
        for model_key, label in (
            ("cox_sequence", _("Cox, sequence only")),
            ("cox_adjusted", _("Cox, adjusted")),
        ):
            model = x.get(model_key) or {}
            if model.get("fitted"):
                parts = [
                    f"{name}: HR {ci(term['hazard_ratio'], term['low'], term['high'])}, p = {pval(term['p'])}"
                    for name, term in model["terms"].items()
                ]
                t.notes.append(f"{label}: " + "; ".join(parts))
            elif model:
                t.notes.append(
                    f"{label}: " + _("not fitted (%(reason)s)") % {"reason": model.get("reason", "")}
                )
        if x.get("correlation_sequence_time_since_ketamine") is not None:
            t.notes.append(
                _("Correlation of KP with the weeks since the last ketamine infusion: %(r)s")
                % {"r": num(x["correlation_sequence_time_since_ketamine"])}
            )
        t.notes.append(
            _(
                "KP's last study infusion is placebo and PK's is ketamine: time zero is a different "
                "time since the last ketamine infusion in each sequence (kp is KP vs PK; the time "
                "since the last ketamine infusion is in weeks)."
            )
        )
        for reason, n in x.get("excluded_by_reason", {}).items():
            t.notes.append(_("Left out: %(reason)s: %(n)s") % {"reason": _reason(reason), "n": n})
        tables.append(t)
        life = Table(
            f"km_{key}",
            _("Kaplan-Meier estimates") + (f" ({_('sensitivity population')})" if key != "main" else ""),
            "",
            "",
            "",
            [_("Sequence"), _("Day"), _("At risk"), _("Relapses"), _("Relapse-free (95 % CI)")],
        )
        for seq, curve in x.get("curves", {}).items():
            for row in curve.get("table", []):
                life.rows.append(
                    [
                        seq,
                        num(row["day"], 1),
                        str(row["at_risk"]),
                        str(row["events"]),
                        ci(row["survival"], row["low"], row["high"], 3),
                    ]
                )
        tables.append(life)
    return tables


MRS_NAMES = {
    "glu_cr": "Glu/tCr",
    "glu_iu": "Glu (i.u.)",
    "glx_cr": "Glx/tCr",
    "glx_iu": "Glx (i.u.)",
    "gaba_plus_cr": "GABA+/tCr",
    "gaba_plus_iu": "GABA+ (i.u.)",
}


def _mrs(r: dict[str, Any]) -> list[Table]:
    tables = []
    if not r.get("mrs"):
        empty = Table("mrs", _("MRS"), "", "", "", [_("Measure")])
        empty.notes.append(_("No quantified scans yet."))
        return [empty]
    for key, measures in r.get("mrs", {}).items():
        period, variant = key.split(":")
        t = Table(
            f"mrs_{period}_{variant}",
            _("MRS: change from the period's baseline to 24 h after its last infusion, period %(k)s")
            % {"k": period.removeprefix("period")}
            + (" — " + _("every scan, QC failures included") if variant == "all_scans" else ""),
            _("Key question 2: change in responders to ketamine; key question 3: that change vs placebo"),
            _("participants with both scans"),
            _(
                "Mean change with t interval; ANCOVA of the 24 h value on baseline and group; Holm within each family (GABA+; glutamate)"
            ),
            [
                _("Measure"),
                _("n"),
                _("Change, ketamine (95 % CI)"),
                _("Change, placebo (95 % CI)"),
                _("Responders to ketamine: change (95 % CI), p (Holm)"),
                _("Responders vs placebo, ANCOVA (95 % CI), p (Holm)"),
                _("Ketamine vs placebo, ANCOVA (95 % CI), p (Holm)"),
            ],
        )
        left_out = 0
        for measure, m in measures.items():
            left_out = max(left_out, m.get("failed_scans_left_out", 0))
            k, p = m["by_product"]["ketamine"], m["by_product"]["placebo"]
            q2, q3, kv = m["q2_responders_change"], m["q3_responders_vs_placebo"], m["ketamine_vs_placebo"]
            t.rows.append(
                [
                    MRS_NAMES.get(measure, measure),
                    str(m["n"]),
                    f"{ci(k.get('estimate'), k.get('low'), k.get('high'), 3)} (n = {k.get('n', 0)})",
                    f"{ci(p.get('estimate'), p.get('low'), p.get('high'), 3)} (n = {p.get('n', 0)})",
                    f"{ci(q2.get('estimate'), q2.get('low'), q2.get('high'), 3)}, {pval(q2.get('p'))} ({pval(q2.get('p_holm'))})",
                    f"{ci(q3.get('estimate'), q3.get('low'), q3.get('high'), 3)}, {pval(q3.get('p'))} ({pval(q3.get('p_holm'))})",
                    f"{ci(kv.get('estimate'), kv.get('low'), kv.get('high'), 3)}, {pval(kv.get('p'))} ({pval(kv.get('p_holm'))})",
                ]
            )
        if variant == "qc_passed":
            t.notes.append(_("Scans that failed the quality limits, left out: %(n)s") % {"n": left_out})
        tables.append(t)
    return tables


def efficacy_tables(r: dict[str, Any]) -> list[Table]:
    return [_sets(r), *_primary(r), *_longitudinal(r), *_crossover(r), *_relapse(r), *_mrs(r)]
