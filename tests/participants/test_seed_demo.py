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
    from participants.management.commands.seed_demo import STAGES

    pairs = 2 * len(STAGES)  # one KP and one PK participant per blinding stage
    outcomes = list(ScreeningRecord.objects.values_list("outcome", flat=True))
    assert len(outcomes) == 8 + pairs
    assert outcomes.count("declined") == 1 and outcomes.count("screen_failure") == 2
    assert Participant.objects.count() == 5 + pairs
    slots = list(AllocationSlot.objects.filter(participant__isnull=False).order_by("sequence_no"))
    assert len(slots) == 4 + pairs
    # Each stage pair took the two slots of one block: one of each sequence.
    for k in range(4, 4 + pairs, 2):
        assert {slots[k].sequence, slots[k + 1].sequence} == {"KP", "PK"}
    from infusions.models import InfusionVisit

    done = InfusionVisit.objects.filter(status="done")
    assert DosePreparation.objects.count() == done.count() > 20
    assert InfusionVisit.objects.filter(status="missed").count() == 1
    assert done.filter(period=2).exists(), "someone is in period 2"
    assert Participant.objects.filter(status="randomized", infusion_visits__isnull=True).exists(), (
        "someone about to start"
    )
    from clinimetry.models import Assessment, Relapse

    # Three rated demo people and every stage pair, two scales each.
    assert Assessment.objects.filter(task_code="baseline").count() == 2 * (3 + pairs)
    assert Relapse.objects.count() == 3, "a demo responder and the relapse pair relapse in follow-up"
    assert Participant.objects.filter(status="withdrawn").count() == 2
    assert Assessment.objects.filter(instrument="madrs", total__lte=15).exclude(task_code="baseline").exists()
    first = Participant.objects.order_by("number").first()
    assert first.history.first().history_change_reason == "Weight re-measured on the calibrated scale"


def test_seed_demo_refuses_to_run_without_the_unblinded_pharmacist(db, settings) -> None:
    import pytest
    from django.core.management.base import CommandError

    settings.UNBLINDED_USERNAMES = []
    with pytest.raises(CommandError, match="UNBLINDED_USERNAMES"):
        call_command("seed_demo")
