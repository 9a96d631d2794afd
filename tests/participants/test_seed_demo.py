from django.contrib.auth import get_user_model
from django.core.management import call_command

from ketatrial.protocol import ROLES
from participants.models import AllocationSlot, DosePreparation, Participant, ScreeningRecord


def test_seed_demo_makes_one_user_per_role_and_a_small_trial(db, capsys, settings) -> None:
    settings.UNBLINDED_USERNAMES = ["pharmacist", "pharmacist2"]
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    out = capsys.readouterr().out
    users = get_user_model().objects.filter(username__in=ROLES)
    assert users.count() == len(ROLES)
    for role in ROLES:
        assert role in out
        assert users.get(username=role).groups.filter(name=role).exists()
    outcomes = list(ScreeningRecord.objects.values_list("outcome", flat=True))
    assert len(outcomes) == 8
    assert outcomes.count("declined") == 1 and outcomes.count("screen_failure") == 2
    assert Participant.objects.count() == 5
    assert AllocationSlot.objects.filter(participant__isnull=False).count() == 4
    from infusions.models import InfusionVisit

    done = InfusionVisit.objects.filter(status="done")
    assert DosePreparation.objects.count() == done.count() > 20
    assert InfusionVisit.objects.filter(status="missed").count() == 1
    assert done.filter(period=2).exists(), "someone is in period 2"
    assert Participant.objects.filter(status="randomized", infusion_visits__isnull=True).exists(), (
        "someone about to start"
    )
    from clinimetry.models import Assessment, Relapse

    assert Assessment.objects.filter(task_code="baseline").count() == 6  # three rated people x 2 scales
    assert Relapse.objects.count() == 1, "a responder relapses in follow-up"
    assert Assessment.objects.filter(instrument="madrs", total__lte=15).exclude(task_code="baseline").exists()
    first = Participant.objects.order_by("number").first()
    assert first.history.first().history_change_reason == "Weight re-measured on the calibrated scale"


def test_seed_demo_refuses_to_run_without_the_unblinded_pharmacist(db, settings) -> None:
    import pytest
    from django.core.management.base import CommandError

    settings.UNBLINDED_USERNAMES = []
    with pytest.raises(CommandError, match="UNBLINDED_USERNAMES"):
        call_command("seed_demo")
