"""The one visibility rule (PROTOCOL.md, "Who may see what"), as data every surface reads.

Two kinds of blinded role. Strictly blinded roles (the rater; the statistician until the sequence
key is released) judge or analyse outcomes and must infer nothing; operationally exposed roles
run the trial, never see the allocation, and get only what their job needs. Pages, direct URLs,
audit history, exports and counts ask this module, not the role names.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

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

NO, READ, WRITE = 0, 1, 2

# Role -> kind -> access. The statistician's rows are the exports' (dataset.py codes them); the
# pharmacist's allocation access is the two keys of allocation.access, not this table.
TABLE: dict[str, dict[str, int]] = {
    RATER: {RATINGS: WRITE, PARTICIPANT: READ},
    STATISTICIAN: {},
    COORDINATOR: {SCHEDULE: WRITE, ADVERSE_EVENTS: READ, MRS: WRITE, PARTICIPANT: WRITE},
    INFUSION_PHYSICIAN: {SCHEDULE: WRITE, INFUSION_SAFETY: WRITE, ADVERSE_EVENTS: WRITE, PARTICIPANT: READ},
    PRINCIPAL_INVESTIGATOR: {
        RATINGS: READ,
        SCHEDULE: READ,
        INFUSION_SAFETY: READ,
        ADVERSE_EVENTS: READ,
        MRS: READ,
        PARTICIPANT: READ,
    },
    DATA_MANAGER: {
        RATINGS: READ,
        SCHEDULE: READ,
        INFUSION_SAFETY: READ,
        ADVERSE_EVENTS: READ,
        MRS: READ,
        PARTICIPANT: READ,
    },
    MONITOR: {
        RATINGS: READ,
        SCHEDULE: READ,
        INFUSION_SAFETY: READ,
        ADVERSE_EVENTS: READ,
        MRS: READ,
        PARTICIPANT: READ,
    },
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
