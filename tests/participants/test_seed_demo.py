"""seed_demo's guard; what it builds is checked in tests/participants/test_blinding_stages.py, which
builds it once for the blinding stages."""

from django.core.management import call_command


def test_seed_demo_refuses_to_run_without_the_unblinded_pharmacist(db, settings) -> None:
    import pytest
    from django.core.management.base import CommandError

    settings.UNBLINDED_USERNAMES = []
    with pytest.raises(CommandError, match="UNBLINDED_USERNAMES"):
        call_command("seed_demo")


def test_seed_demo_gives_the_demo_accounts_that_need_it_an_authenticator_and_prints_its_secret(
    personas, settings
) -> None:
    import io

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from participants.management.commands.seed_demo import Command
    from participants.sign_in import otpauth_uri, secret_base32

    settings.UNBLINDED_USERNAMES = ["pharmacist"]
    out = io.StringIO()
    Command(stdout=out)._second_factor(personas)
    devices = {d.user.username: d for d in TOTPDevice.objects.filter(confirmed=True).select_related("user")}
    assert set(devices) == {"pharmacist", "data_manager", "principal_investigator"}
    text = out.getvalue()
    for device in devices.values():
        assert secret_base32(device) in text and otpauth_uri(device) in text
    # Run again (make run does, every time): the same secrets, so a configured app keeps working.
    again = io.StringIO()
    Command(stdout=again)._second_factor(personas)
    assert again.getvalue() == text
    assert TOTPDevice.objects.count() == 3


def test_the_demo_says_on_its_sign_in_page_that_the_second_factor_is_on(db, client, settings) -> None:
    settings.DEBUG = True
    page = client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Demo: the second factor is on." in page and "seed_demo" in page
    assert "Principal investigator" in page and "unblinded pharmacists" in page
    settings.DEBUG = False
    assert "Demo: the second factor" not in client.get("/accounts/login/").content.decode()
