"""User management by the data manager: roles, the rater/pharmacist rule, the change log."""

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from participants import services
from participants.models import UserRoleChange

User = get_user_model()


def test_it_refuses_a_rater_who_is_also_a_pharmacist(make_user) -> None:
    with pytest.raises(ValidationError, match="rater must stay blinded"):
        make_user("both", "rater", "pharmacist")
    assert not User.objects.filter(username="both").exists()


def test_it_refuses_to_add_the_pharmacist_role_to_a_rater(rater, data_manager) -> None:
    with pytest.raises(ValidationError):
        services.user_set_roles(
            user=rater,
            roles={"rater", "pharmacist"},
            active=True,
            reason="cover",
            by=data_manager,
            now=timezone.now(),
        )
    assert set(rater.groups.values_list("name", flat=True)) == {"rater"}


def test_a_role_change_needs_a_reason_and_is_logged(rater, data_manager) -> None:
    with pytest.raises(ValidationError):
        services.user_set_roles(
            user=rater,
            roles={"rater", "statistician"},
            active=True,
            reason="",
            by=data_manager,
            now=timezone.now(),
        )
    services.user_set_roles(
        user=rater,
        roles={"rater", "statistician"},
        active=True,
        reason="Covers monitoring",
        by=data_manager,
        now=timezone.now(),
    )
    change = UserRoleChange.objects.filter(user=rater).first()
    assert change.old_roles == ["rater"] and change.new_roles == ["rater", "statistician"]
    assert change.changed_by == data_manager and change.reason == "Covers monitoring"


def test_the_data_manager_creates_a_user_with_roles_through_the_page(data_manager, client_for) -> None:
    response = client_for(data_manager).post(
        reverse("participants:user_create"),
        {
            "username": "dr.lopez",
            "first_name": "Ana",
            "last_name": "López",
            "email": "ana@example.org",
            "password": "Ketamina-segura-77",
            "roles": ["rater"],
            "language": "es",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="dr.lopez")
    assert list(user.groups.values_list("name", flat=True)) == ["rater"]
    assert user.profile.language == "es"


def test_the_user_form_refusal_keeps_what_was_typed(data_manager, client_for) -> None:
    response = client_for(data_manager).post(
        reverse("participants:user_create"),
        {
            "username": "dr.ruiz",
            "first_name": "Luis",
            "last_name": "Ruiz",
            "email": "luis@example.org",
            "password": "Ketamina-segura-77",
            "roles": ["rater", "pharmacist"],
            "language": "en",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "rater must stay blinded" in html
    assert 'value="dr.ruiz"' in html and 'value="luis@example.org"' in html
    assert not User.objects.filter(username="dr.ruiz").exists()


def test_a_deactivated_user_can_no_longer_sign_in(rater, data_manager, client) -> None:
    services.user_set_roles(
        user=rater,
        roles={"rater"},
        active=False,
        reason="Left the study",
        by=data_manager,
        now=timezone.now(),
    )
    response = client.post(reverse("login"), {"username": "rater", "password": "Correct-horse-42"})
    assert response.status_code == 200  # the form again, not a redirect into the site


def test_the_data_manager_cannot_deactivate_themself(data_manager) -> None:
    with pytest.raises(ValidationError):
        services.user_set_roles(
            user=data_manager,
            roles={"data_manager"},
            active=False,
            reason="x",
            by=data_manager,
            now=timezone.now(),
        )


def test_the_user_chooses_the_interface_language(rater, client_for) -> None:
    client = client_for(rater)
    home = reverse("role_home", args=["rater"])
    client.post(reverse("set_language"), {"language": "es", "next": home})
    assert "Su trabajo" in client.get(home).content.decode()
    client.post(reverse("set_language"), {"language": "en", "next": home})
    assert "Your work" in client.get(home).content.decode()


def test_the_language_switch_refuses_an_outside_redirect(rater, client_for) -> None:
    response = client_for(rater).post(
        reverse("set_language"), {"language": "en", "next": "https://evil.example/"}
    )
    assert response.url == "/"


@pytest.mark.parametrize(
    "other", ["coordinator", "infusion_physician", "data_manager", "principal_investigator", "monitor"]
)
def test_a_rater_holds_no_role_that_sees_the_infusion_calendar(make_user, other) -> None:
    with pytest.raises(ValidationError, match="rater must stay blinded"):
        make_user("both", "rater", other)


def test_the_application_does_not_create_an_account_with_an_unblinded_username(
    data_manager, settings
) -> None:
    settings.UNBLINDED_USERNAMES = ["pharma.chief"]
    with pytest.raises(ValidationError, match="reserved"):
        services.user_create(
            username="pharma.chief",
            password="Ketamina-segura-77",
            first_name="P",
            last_name="C",
            email="p@example.org",
            roles={"pharmacist"},
            language="en",
            by=data_manager,
            now=timezone.now(),
        )
