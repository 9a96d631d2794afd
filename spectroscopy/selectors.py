"""Reads for the MRS pages: results per participant, one result, the quality dashboard."""

from __future__ import annotations

from django.db.models import QuerySet

from participants.models import Participant
from spectroscopy.models import MRSResult, MRSUpload


def mrs_result_list_mega(participant: Participant) -> QuerySet[MRSResult]:
    """The participant's results of MEGA-PRESS series, with their uploads."""
    return MRSResult.objects.filter(
        upload__participant=participant, upload__kind=MRSUpload.Kind.MEGA
    ).select_related("upload")


def mrs_result_get(pk: int) -> MRSResult | None:
    """One result with its upload, participant and water reference, or None."""
    return MRSResult.objects.select_related("upload", "upload__participant", "water").filter(pk=pk).first()


def mrs_result_list_for_qc() -> QuerySet[MRSResult]:
    """Finished and failed results with their uploads and participants, for the quality dashboard."""
    return MRSResult.objects.filter(
        status__in=[MRSResult.Status.DONE, MRSResult.Status.FAILED]
    ).select_related("upload", "upload__participant")
