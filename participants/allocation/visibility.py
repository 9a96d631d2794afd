"""The one visibility rule (PROTOCOL.md, "Who may see what"), as data every surface reads.

Two kinds of blinded role. Strictly blinded roles (the rater; the statistician until the sequence
key is released) judge or analyse outcomes and must infer nothing; operationally exposed roles
run the trial, never see the allocation, and get only what their job needs. Pages, direct URLs,
audit history, exports and counts ask this module, not the role names.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ketatrial.protocol import (
    COORDINATOR,
    DATA_MANAGER,
    INFUSION_PHYSICIAN,
    MONITOR,
    PHARMACIST,
    PRINCIPAL_INVESTIGATOR,
    RATER,
    STATISTICIAN,
)
from participants.access import user_roles
from participants.allocation.access import can_see_allocation

# Kinds of data (rows of the protocol's table).
RATINGS = "ratings"  # rating tasks and ratings (HDRS-17, MADRS)
SCHEDULE = "schedule"  # schedule, calendar, infusion visits
INFUSION_SAFETY = "infusion_safety"  # vitals, CADSS/BPRS+, adverse events
ADVERSE_EVENTS = "adverse_events"
MRS = "mrs"  # MRS uploads and results
PARTICIPANT = "participant"  # enrolment, consent, identity (the participant record itself)
ALLOCATION = "allocation"  # allocation, product, kit-to-product
TRIAL = "trial"  # trial-wide records: database locks and releases
GUESSES = "guesses"  # guesses of the product (blinding assessment)
INTERNAL = "internal"  # storage details no role reads (file paths on the server)
MEDICATIONS = "medications"  # prior treatments and concomitant medication
PREGNANCY = "pregnancy"  # childbearing potential and pregnancy tests (dated beside the infusions)
STAFF = "staff"  # the delegation and training log

NO, READ, WRITE = 0, 1, 2

# The principal investigator, the data manager and the monitor read everything but the allocation.
_OVERSIGHT = {
    RATINGS: READ,
    SCHEDULE: READ,
    INFUSION_SAFETY: READ,
    ADVERSE_EVENTS: READ,
    MRS: READ,
    PARTICIPANT: READ,
    TRIAL: READ,
    GUESSES: READ,
    MEDICATIONS: READ,
    PREGNANCY: READ,
}

# Role -> kind -> access. The statistician's rows are the exports' (dataset.py codes them); the
# pharmacist's allocation access is the two keys of allocation.access, not this table.
TABLE: dict[str, dict[str, int]] = {
    RATER: {RATINGS: WRITE, PARTICIPANT: READ, GUESSES: WRITE},
    STATISTICIAN: {},
    COORDINATOR: {
        SCHEDULE: WRITE,
        ADVERSE_EVENTS: READ,
        MRS: WRITE,
        PARTICIPANT: WRITE,
        MEDICATIONS: WRITE,
        PREGNANCY: WRITE,
    },
    INFUSION_PHYSICIAN: {
        SCHEDULE: WRITE,
        INFUSION_SAFETY: WRITE,
        ADVERSE_EVENTS: WRITE,
        PARTICIPANT: READ,
        GUESSES: WRITE,
        MEDICATIONS: WRITE,
        PREGNANCY: WRITE,
    },
    # The delegation and training log is kept by the data manager and signed by the PI.
    PRINCIPAL_INVESTIGATOR: {**_OVERSIGHT, STAFF: WRITE},
    DATA_MANAGER: {**_OVERSIGHT, STAFF: WRITE},
    MONITOR: _OVERSIGHT,
    PHARMACIST: {SCHEDULE: READ, PARTICIPANT: READ},
}

STRICT_ROLES = (RATER, STATISTICIAN)


def is_strictly_blinded(user: AbstractBaseUser | AnonymousUser) -> bool:
    """A rater always; a statistician until the sequence key is released. A person holding a
    strict role is treated strictly on every page, whatever other roles they hold."""
    roles = user_roles(user)
    if RATER in roles:
        return True
    if STATISTICIAN in roles:
        from participants.allocation.sequence_key import sequence_key_released

        return not sequence_key_released()
    return False


def access(user: AbstractBaseUser | AnonymousUser, kind: str) -> int:
    """The user's access to a kind of data: NO, READ or WRITE, the best of their roles. (A person
    who is a rater and also holds an exposed role is as exposed as that role: the rater's own
    pages stay opaque, but the person can read the schedule elsewhere.)"""
    if kind == ALLOCATION:
        return READ if can_see_allocation(user) else NO
    return max((TABLE.get(role, {}).get(kind, NO) for role in user_roles(user)), default=NO)


def may_see(user: AbstractBaseUser | AnonymousUser, kind: str) -> bool:
    return access(user, kind) >= READ


# Sites. Trial-wide roles oversee or analyse the whole trial: with no site listed on their
# account they see every site's participants (a monitor may be limited to some sites by listing
# them). Site staff (coordinator, rater, infusion physician, pharmacist) see only the
# participants of their sites; one with no site listed works at the protocol's own site
# (Protocol.site_code), which keeps a single-site trial working with no configuration.
TRIAL_WIDE_ROLES = frozenset({DATA_MANAGER, STATISTICIAN, MONITOR, PRINCIPAL_INVESTIGATOR})


def sites_for(user: AbstractBaseUser | AnonymousUser) -> frozenset[int] | None:
    """The ids of the sites whose participants the user may see, or None for every site (cached
    on the user object for the request: one query, whatever the number of participants)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if hasattr(user, "_ketatrial_sites"):
        return user._ketatrial_sites  # type: ignore[union-attr]
    from participants.models import Site

    listed = frozenset(Site.objects.filter(profiles__user=user).values_list("pk", flat=True))
    sites: frozenset[int] | None = listed
    if not listed:
        if user_roles(user) & TRIAL_WIDE_ROLES:
            sites = None
        else:
            from ketatrial.trial import protocol

            sites = frozenset(Site.objects.filter(code=protocol().site_code).values_list("pk", flat=True))
    if sites is None or sites:
        # Not an empty answer: the protocol's site may be created later in the same request.
        user._ketatrial_sites = sites  # type: ignore[union-attr]
    return sites


def participant_scope(user: AbstractBaseUser | AnonymousUser, path: str = "", *, or_none: bool = False) -> Q:
    """The participants the user's sites allow, as a filter on a queryset of participants (`path`
    empty) or of records reaching a participant by `path` ("participant", "visit__participant";
    `or_none`: records of no participant pass too). Every list and page that shows a participant
    applies it, through the participant selectors or directly; a participant of another site
    is then the same as a missing one."""
    sites = sites_for(user)
    if sites is None:
        return Q()
    scope = Q(**{f"{path}__site_id__in" if path else "site_id__in": sorted(sites)})
    return scope | Q(**{f"{path}__isnull": True}) if or_none and path else scope


# The kind of each audited model's records; a model not listed is shown to no one (deny by
# default). The allocation's own records (slots, preparations, receipts, unblinding, the key)
# and identities stay out of the audit pages altogether (ClinicalModel.audit_restricted).
MODEL_KINDS: dict[str, str] = {
    "ketatrial.lockevent": TRIAL,
    "outcomes.exportevent": TRIAL,
    "participants.screeningrecord": PARTICIPANT,
    "participants.consent": PARTICIPANT,
    "participants.participant": PARTICIPANT,
    "infusions.schedule": SCHEDULE,
    "infusions.infusionvisit": SCHEDULE,
    # The study calendar (closed days and weekdays) is the schedule's; a pause is session safety.
    "infusions.closedday": SCHEDULE,
    "infusions.closedweekdays": SCHEDULE,
    "infusions.infusionpause": INFUSION_SAFETY,
    # The bedside scan of a syringe label: the code and whether it matched, nothing of the content.
    "participants.syringescan": SCHEDULE,
    "infusions.vitalsigns": INFUSION_SAFETY,
    "infusions.dissociationrating": INFUSION_SAFETY,
    "infusions.adverseevent": ADVERSE_EVENTS,
    "infusions.adverseeventfollowup": ADVERSE_EVENTS,
    "clinimetry.assessment": RATINGS,
    "clinimetry.relapseevent": RATINGS,
    "clinimetry.relapse": RATINGS,
    "clinimetry.blindingguess": GUESSES,
    # Follows a rating (its rater records it); it holds nothing of the schedule.
    "safety.suicideriskfollowup": RATINGS,
    "spectroscopy.mrsupload": MRS,
    "spectroscopy.tissuefractions": MRS,
    # Data review: the reviewers' own records (queries are also shown, record by record, to whom
    # may see the record they are about: review/services.py query_visible).
    "review.query": TRIAL,
    "review.querymessage": TRIAL,
    "review.verification": TRIAL,
    "review.formlock": TRIAL,
    "review.casebooksignature": TRIAL,
    "review.protocoldeviation": TRIAL,
    # What a site also records (conduct/): clinical data of the exposed roles; never a rater's.
    "conduct.priortreatment": MEDICATIONS,
    "conduct.concomitantmedication": MEDICATIONS,
    "conduct.childbearingpotential": PREGNANCY,
    "conduct.pregnancytest": PREGNANCY,
    "conduct.delegation": STAFF,
    "conduct.trainingrecord": STAFF,
    "review.softrangeconfirmation": TRIAL,
}
# Fields of a visible record whose kind differs from the record's.
FIELD_KINDS: dict[str, dict[str, str]] = {
    # A rating's place in the schedule (period, timepoint) is schedule data: the strictly blinded
    # rater sees a rating by its date (a query or review page must not name p2-predose-5).
    "clinimetry.assessment": {"task_code": SCHEDULE, "serves": SCHEDULE, "period": SCHEDULE},
    "spectroscopy.mrsupload": {
        "stored_path": INTERNAL,
        "working_path": INTERNAL,
        "companion_path": INTERNAL,
        "converted_path": INTERNAL,
    },
}


def record_kind(label: str) -> str | None:
    """The kind of data a model's records hold (by "app.model" label), or None: shown to no one."""
    return MODEL_KINDS.get(label)


def may_see_records(user: AbstractBaseUser | AnonymousUser, label: str) -> bool:
    """Whether the user may see a model's records (live or in their history)."""
    kind = record_kind(label)
    return kind is not None and may_see(user, kind)


def visible_fields(user: AbstractBaseUser | AnonymousUser, label: str, names: list[str]) -> list[str]:
    """The fields of a visible record the user may see, in the given order: a record's history
    shows a role exactly what that role may see of the live record, field by field."""
    own = FIELD_KINDS.get(label, {})
    return [n for n in names if n not in own or (own[n] != INTERNAL and may_see(user, own[n]))]


# What each role can still infer of the sequence, by stage: the protocol's own design (4 vs 8
# period-2 infusions, the dissociation a ketamine infusion visibly causes), not the software,
# which never shows the allocation to any of them. Stated on the protocol page, the lock page
# and the status report (PROTOCOL.md, "Who may see what").
STAGES = (
    ("period1", _("Period 1 (both sequences: 8 infusions)")),
    ("period2_early", _("Period 2, until a week before KP's 4th infusion")),
    ("period2_lead", _("Period 2, the booking week before KP's 4th infusion")),
    ("period2_kp_over", _("KP's period 2 over, PK's continuing")),
    ("followup", _("Both in follow-up")),
)

_NOTHING = _("Nothing from the software.")
_DISSOCIATION = _(
    "Nothing from the software; dissociation seen during an infusion can hint at the active "
    "product, as in any trial of this drug."
)
_BOOKING = _(
    "The calendar shows what hangs on KP's last period-2 infusion (the in-scanner scan, the scans "
    "and ratings after it) a week ahead, while PK's shows infusion 5 only after infusion 4: the "
    "sequence can be inferred from here."
)
_SCHEDULE = _(
    "The schedule shows period 2 ended after 4 infusions (KP) or continuing to 8 (PK): the "
    "sequence can be inferred."
)
_FOLLOWUP = _(
    "Follow-up started about 16 days earlier for KP than for PK enrolled at the same time: the "
    "sequence can be inferred from the dates."
)
_RATER = _(
    "Nothing from the software (opaque rating visits, by due day). In person the rater meets "
    "the participant at pre-dose ratings; after KP's period 2 those visits stop, for PK they go "
    "on twice a week: the visit rhythm, not the software, tells."
)
_STATISTICIAN = _(
    "Nothing: exports hold baseline and period 1 only, coded; counts that a sequence could move "
    "change in batches of 10."
)


def residual_texts(equal_length: bool) -> dict[str, object]:
    """The heading and the note above the residual-inference table (templates never name the
    sequence themselves: tests/participants/test_allocation_module_is_alone.py)."""
    return {
        "title": _("What each blinded role can still infer of the sequence"),
        "note": _(
            "period2_equal_length is on: both sequences have 8 period-2 infusions, so the schedule "
            "tells nothing at any stage."
        )
        if equal_length
        else _(
            "period2_equal_length is off (the protocol's default): period 2 has 4 infusions after KP "
            "and 8 after PK."
        ),
        "rows": residual_inference(equal_length),
    }


def residual_inference(equal_length: bool) -> list[tuple[object, list[tuple[object, object]]]]:
    """Per stage, (role label, what that role can infer) for every blinded role. With the
    period2_equal_length amendment on, the schedule no longer tells the sequence at any stage."""
    from participants.roles import ROLE_LABELS

    rows = []
    for stage, label in STAGES:
        late = stage in ("period2_lead", "period2_kp_over", "followup") and not equal_length
        exposed = {
            "period1": _DISSOCIATION,
            "period2_early": _DISSOCIATION,
            "period2_lead": _BOOKING,
            "period2_kp_over": _SCHEDULE,
            "followup": _FOLLOWUP,
        }[stage]
        cells = [
            (ROLE_LABELS[RATER], _RATER if late and stage != "period2_lead" else _NOTHING),
            (ROLE_LABELS[STATISTICIAN], _STATISTICIAN),
        ]
        for role in (COORDINATOR, INFUSION_PHYSICIAN, PRINCIPAL_INVESTIGATOR, DATA_MANAGER, MONITOR):
            text = exposed if late else (_DISSOCIATION if role == INFUSION_PHYSICIAN else _NOTHING)
            cells.append((ROLE_LABELS[role], text))
        rows.append((label, cells))
    return rows
