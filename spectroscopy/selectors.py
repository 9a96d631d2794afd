"""Reads for the MRS pages: results per participant, one result, the quality dashboard."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from participants.allocation import visibility
from participants.models import Participant
from spectroscopy.models import MRSResult, MRSUpload


def mrs_result_list_mega(participant: Participant) -> QuerySet[MRSResult]:
    """The participant's results of MEGA-PRESS series in force (not of a withdrawn upload), with
    their uploads."""
    return (
        MRSResult.objects.filter(upload__participant=participant, upload__kind=MRSUpload.Kind.MEGA)
        .exclude(upload__status=MRSUpload.Status.SUPERSEDED)
        .select_related("upload")
    )


def mrs_upload_list(participant: Participant) -> QuerySet[MRSUpload]:
    """The participant's uploads, withdrawn ones included (the page shows the history), with their
    results."""
    return (
        participant.mrs_uploads.select_related("replaces")
        .prefetch_related("results")
        .order_by("session_code", "uploaded_at")
    )


def mrs_upload_get(participant: Participant, pk: int) -> MRSUpload | None:
    """One upload of this participant, or None (missing and not this participant's alike)."""
    return participant.mrs_uploads.filter(pk=pk).first()


def mrs_result_get(pk: int) -> MRSResult | None:
    """One result with its upload, participant and water reference, or None."""
    return MRSResult.objects.select_related("upload", "upload__participant", "water").filter(pk=pk).first()


def mrs_result_list_for_qc(user: AbstractBaseUser | None = None) -> QuerySet[MRSResult]:
    """Finished and failed results with their uploads and participants, for the quality dashboard
    (given a user, of the participants of the user's sites)."""
    scope = visibility.participant_scope(user, "upload__participant") if user is not None else Q()
    return (
        MRSResult.objects.filter(scope, status__in=[MRSResult.Status.DONE, MRSResult.Status.FAILED])
        .exclude(upload__status=MRSUpload.Status.SUPERSEDED)
        .select_related("upload", "upload__participant")
    )
