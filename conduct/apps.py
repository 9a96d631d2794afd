from django.apps import AppConfig


class ConductConfig(AppConfig):
    name = "conduct"
    verbose_name = "Trial conduct"

    def ready(self) -> None:
        from simple_history.signals import pre_create_historical_record

        from conduct.paper import mark_paper_entry

        # Every audited write made while its author is entering paper forms after a downtime says
        # so in its history row, with the time of entry (conduct/paper.py).
        pre_create_historical_record.connect(mark_paper_entry, dispatch_uid="conduct-paper-entry")
