from django.apps import AppConfig


class ParticipantsConfig(AppConfig):
    name = "participants"

    def ready(self) -> None:
        from participants import checks  # noqa: F401
