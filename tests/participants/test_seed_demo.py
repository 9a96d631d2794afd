"""seed_demo's guard; what it builds is checked in tests/participants/test_blinding_stages.py, which
builds it once for the blinding stages."""

from django.core.management import call_command


def test_seed_demo_refuses_to_run_without_the_unblinded_pharmacist(db, settings) -> None:
    import pytest
    from django.core.management.base import CommandError

    settings.UNBLINDED_USERNAMES = []
    with pytest.raises(CommandError, match="UNBLINDED_USERNAMES"):
        call_command("seed_demo")
