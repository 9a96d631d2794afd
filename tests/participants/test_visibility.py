"""The one visibility rule as data: the table every surface reads, and the stated residual
inference per role and stage."""

from __future__ import annotations

from django.urls import reverse

from participants.allocation import visibility


def test_the_residual_inference_names_the_stage_where_the_schedule_tells_and_none_when_equal() -> None:
    off = dict(visibility.residual_inference(False))
    on = dict(visibility.residual_inference(True))
    assert len(off) == len(visibility.STAGES) == len(on)
    told = [str(stage) for stage, cells in off.items() if any("inferred" in str(t) for _r, t in cells)]
    assert len(told) == 3  # from the booking week before KP's last infusion on
    assert not any("inferred" in str(t) for cells in on.values() for _r, t in cells)
    # The strictly blinded roles learn nothing from the software at any stage.
    for cells in off.values():
        statistician = {str(r): str(t) for r, t in cells}["Statistician"]
        assert "inferred" not in statistician


def test_the_protocol_page_states_it(rater, client_for) -> None:
    html = client_for(rater).get(reverse("protocol"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "What each blinded role can still infer" in html and "booking week" in html


def test_every_audited_model_has_a_kind_or_is_kept_out_of_the_audit_pages() -> None:
    from ketatrial.audit import audited_models

    labels = {m._meta.label_lower for m in audited_models()}
    assert labels <= set(visibility.MODEL_KINDS), labels - set(visibility.MODEL_KINDS)
