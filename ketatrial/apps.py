from django.apps import AppConfig
from django.db.models.signals import post_migrate


class KetatrialConfig(AppConfig):
    name = "ketatrial"
    verbose_name = "KetaTrial"

    def ready(self) -> None:
        from ketatrial import checks  # noqa: F401  (registers the system checks)
        from ketatrial.audit_db import install_audit_triggers

        # Once per migrate (or test flush), when this app's turn comes: every table exists by then.
        post_migrate.connect(install_audit_triggers, sender=self, dispatch_uid="ketatrial-audit-triggers")
        from simple_history.signals import post_create_historical_record

        from ketatrial.audit_chain import link_history_row

        # Every history row is chained in its own transaction (ketatrial/audit_chain.py).
        post_create_historical_record.connect(link_history_row, dispatch_uid="ketatrial-audit-chain")
