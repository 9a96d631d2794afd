from django.apps import AppConfig


class InfusionsConfig(AppConfig):
    name = "infusions"

    def ready(self) -> None:
        # Derived data upkeep, not business logic: every write of a schedule's inputs (its anchor,
        # a visit), by whatever path, stores the participant's schedule span in the same
        # transaction, so the task list and the calendar never skip a participant whose schedule
        # moved (infusions.models.ScheduleSpan).
        from django.db.models.signals import post_delete, post_save
        from django.utils import timezone

        from infusions.models import InfusionVisit, Schedule

        def refresh(sender, instance, **kwargs):  # type: ignore[no-untyped-def]
            from infusions.services import schedule_span_refresh

            if kwargs.get("raw"):  # fixtures: loaddata writes rows as they are
                return
            schedule_span_refresh(instance.participant, now=timezone.now())

        for model in (Schedule, InfusionVisit):
            post_save.connect(refresh, sender=model, dispatch_uid=f"schedule-span-{model.__name__}")
            post_delete.connect(refresh, sender=model, dispatch_uid=f"schedule-span-del-{model.__name__}")
