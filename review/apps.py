from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"
    verbose_name = "Data review"

    def ready(self) -> None:
        from simple_history.signals import post_create_historical_record

        from ketatrial.audit import WRITE_GUARDS
        from review.services import after_clinical_write, refuse_write_to_locked_form

        if refuse_write_to_locked_form not in WRITE_GUARDS:
            WRITE_GUARDS.append(refuse_write_to_locked_form)

        # After every audited write: verifications of changed fields lapse, the casebook signature
        # of the participant is voided, edit checks may raise queries (review/services.py).
        post_create_historical_record.connect(after_clinical_write, dispatch_uid="review-after-write")
