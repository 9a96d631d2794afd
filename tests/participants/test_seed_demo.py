from django.contrib.auth import get_user_model
from django.core.management import call_command

from ketatrial.protocol import ROLES
from participants.models import Participant


def test_seed_demo_makes_one_user_per_role_and_a_small_trial(db, capsys) -> None:
    call_command("seed_demo")
    call_command("seed_demo")  # idempotent
    out = capsys.readouterr().out
    users = get_user_model().objects.filter(username__in=ROLES)
    assert users.count() == len(ROLES)
    for role in ROLES:
        assert role in out
        assert users.get(username=role).groups.filter(name=role).exists()
    assert Participant.objects.count() == 4
    first = Participant.objects.order_by("number").first()
    assert first.history.count() == 2 and first.history.first().history_change_reason
