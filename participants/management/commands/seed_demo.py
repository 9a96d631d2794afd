"""Create demo users (one per role) and a small synthetic trial through the real services."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from clinimetry.examples import spread
from ketatrial.protocol import COORDINATOR, PHARMACIST, ROLES
from ketatrial.trial import protocol
from participants import allocation, services, sign_in
from participants.eligibility import HDRS17_CRITERION, criterion_index
from participants.models import Participant, ScreeningRecord, Site

DEMO_START_DAYS_AGO = (100, 45, 20, 3, 12, 30, 8, 25)
# The blinding stages (issue 12): per stage, one KP and one PK participant with identical data
# (same weight, course, dates), day 1 this many days ago, and how their story ends. Day 12 is mid
# period 1; day 42 is after period-2 infusion 3; day 52 is after KP's period 2 ended (its 4th
# infusion on day 44) while PK's goes on to day 60; day 80, both in follow-up.
STAGES: tuple[tuple[str, int, str], ...] = (
    ("period1-mid", 12, ""),
    ("period2-after-3", 42, ""),
    ("kp-over-pk-continuing", 52, ""),
    ("both-in-follow-up", 80, ""),
    ("relapse", 110, "relapse"),
    ("withdrawn", 20, "withdrawn"),
    ("emergency-unblinded", 30, "unblinded"),
)
STAGE_COURSE = (31, 12, 11, {1: 10, 2: 12})
STAGE_RELAPSE_COURSE = (31, 12, 11, {1: 10, 2: 24, 3: 25, 4: 26})
DEMO_PASSWORD = "Ketamina-demo-2026"
# A second site (issue 15, item 5: sites are configuration): its own coordinator, who sees only
# its participants; the rest of the demo stays on the protocol's site.
SECOND_SITE = ("HSUR", "Hospital del Sur (demo second site)")
SECOND_SITE_COORDINATOR = "coordinator_b"
# MADRS course per randomized person: (baseline, after the first infusion, period 2, follow-up
# weeks -> total). Person 1 responds then relapses in follow-up; person 2 responds and stays well;
# person 3 does not respond.
DEMO_COURSES: tuple[tuple[int, int, int, dict[int, int]], ...] = (
    (32, 12, 10, {1: 9, 2: 11, 3: 14, 4: 23, 5: 25, 6: 27}),
    (30, 14, 12, {}),
    (28, 25, 24, {}),
    (34, 30, 30, {}),
)  # demo only; printed so a newcomer can sign in
# (name, weight kg, height cm, screening HDRS-17, what happens)
DEMO_PEOPLE = (
    ("María Hernández", "72.5", "168.0", 26, "randomized"),
    ("José Ramírez", "58.0", "155.5", 23, "randomized"),
    ("Guadalupe Torres", "91.2", "178.0", 21, "randomized"),
    ("Juan Flores", "66.4", "162.0", 25, "randomized"),
    ("Rosa Martínez", "63.0", "160.0", 22, "enrolled"),
    ("Luis Gómez", "80.0", "175.0", 15, "screen_failure"),
    ("Carmen Díaz", "70.0", "165.0", 0, "declined"),
    ("Pedro Cruz", "77.0", "171.0", 20, "excluded"),
)


def _demo_list(n: int) -> str:
    import random

    from participants.randomization import Row, rows_to_csv

    rng = random.Random(20261126)  # noqa: S311 (a demo list, not a real allocation)
    rows = []
    for block in range(n // 2):
        pair = ["KP", "PK"]
        rng.shuffle(pair)
        for k, sequence in enumerate(pair):
            number = 2 * block + k + 1
            rows.append(Row("", number, block + 1, 2, sequence, f"KIT{number:04d}"))
    return rows_to_csv(rows)


class Command(BaseCommand):
    help = "Create demo users, one per role, and a small synthetic trial (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        users = self._users(now)
        self._second_site(users, now)
        if not ScreeningRecord.objects.exists():
            self._trial(users, now)
            self._second_site_trial(users, now)
        self.stdout.write(f"Demo users (password for all: {DEMO_PASSWORD}):")
        for role in ROLES:
            self.stdout.write(f"  {role:<24} username: {role}")
        self.stdout.write(f"  {'pharmacist (checker)':<24} username: pharmacist2")
        self.stdout.write(
            f"  {'coordinator (site ' + SECOND_SITE[0] + ')':<24} username: {SECOND_SITE_COORDINATOR}"
        )
        self._second_factor(users)

    def _second_factor(self, users: dict[str, Any]) -> None:
        """A TOTP device for each demo account that needs the second factor (settings.
        OTP_REQUIRED_FOR), kept across runs; its secret and otpauth URI printed for an
        authenticator app (the demo's sign-in page says they are here)."""
        needing = [(name, user) for name, user in users.items() if sign_in.second_factor_required(user)]
        if not needing:
            return
        self.stdout.write(
            "Second factor (TOTP): after the password these accounts type the code of an "
            "authenticator app. Add the secret (or the otpauth URI, e.g. as a QR code) to the app:"
        )
        for name, user in needing:
            device = sign_in.demo_device(user)
            self.stdout.write(f"  {name:<24} secret: {sign_in.secret_base32(device)}")
            self.stdout.write(f"  {'':<24} {sign_in.otpauth_uri(device)}")

    def _users(self, now: Any) -> dict[str, Any]:
        user_model = get_user_model()
        users = {}
        for username, role in [(r, r) for r in ROLES] + [("pharmacist2", PHARMACIST)]:
            user = user_model.objects.filter(username=username).first()
            if user is None:
                first, _, last = role.replace("_", " ").title().partition(" ")
                user = services.user_create(
                    username=username,
                    password=DEMO_PASSWORD,
                    first_name=first or role,
                    last_name=last or "Demo",
                    email=f"{username}@example.org",
                    roles={role},
                    language="",  # no saved choice: the page follows the browser's language
                    by=None,
                    now=now,
                )
            users[username] = user
        return users

    def _second_site(self, users: dict[str, Any], now: Any) -> None:
        """The second site and its coordinator (idempotent); the protocol's site exists first,
        so the demo's other accounts (no site listed) keep working there."""
        services.site_get_or_create_default()
        code, name = SECOND_SITE
        site = Site.objects.filter(code=code).first() or services.site_create(code=code, name=name)
        user = get_user_model().objects.filter(username=SECOND_SITE_COORDINATOR).first()
        if user is None:
            user = services.user_create(
                username=SECOND_SITE_COORDINATOR,
                password=DEMO_PASSWORD,
                first_name="Coordinator",
                last_name=code,
                email=f"{SECOND_SITE_COORDINATOR}@example.org",
                roles={COORDINATOR},
                language="",
                by=None,
                now=now,
            )
            services.user_set_sites(
                user=user, sites=[site], reason="demo: coordinator of the second site", by=user, now=now
            )
        users[SECOND_SITE_COORDINATOR] = user

    def _second_site_trial(self, users: dict[str, Any], now: Any) -> None:
        """One person screened, consented and enrolled at the second site by its coordinator (not
        randomized: the demo list's slots stay with the protocol's site's stage pairs)."""
        p = protocol()
        coordinator = users[SECOND_SITE_COORDINATOR]
        start = now - timedelta(days=6)
        record = services.screening_start(
            site=Site.objects.get(code=SECOND_SITE[0]), by=coordinator, now=start
        )
        services.consent_record(
            screening=record,
            version=p.consent_version,
            consented_at=start + timedelta(minutes=20),
            by=coordinator,
            now=start + timedelta(minutes=20),
        )
        services.screening_assess(
            screening=record,
            inclusion_met=[True] * len(p.inclusion_criteria),
            exclusion_present=[False] * len(p.exclusion_criteria),
            hdrs17_total=24,
            by=coordinator,
            now=start + timedelta(hours=1),
        )
        services.participant_enroll(
            screening=record,
            by=coordinator,
            now=start + timedelta(days=1),
            baseline_weight_kg=Decimal("69.0"),
            height_cm=Decimal("164.0"),
            full_name="Elena Vázquez",
            date_of_birth=date(1985, 5, 17),
            phone="55 5900 0099",
            address="Ciudad de México",
            baseline_date=(start + timedelta(days=1)).date(),
        )

    def _trial(self, users: dict[str, Any], now: Any) -> None:
        coordinator, pharmacist = users["coordinator"], users[PHARMACIST]
        if not allocation.can_see_allocation(pharmacist):
            raise CommandError(
                "seed_demo needs the demo pharmacist unblinded: run with UNBLINDED_USERNAMES=pharmacist,pharmacist2 "
                f"(now: {settings.UNBLINDED_USERNAMES})"
            )
        p = protocol()
        # The demo's list: blocks of two, one of each sequence in a seeded order, so that each
        # stage pair below has one KP and one PK participant (a real list comes from the trial
        # statistician, with blocks the site does not know).
        allocation.allocation_list_upload(
            by=pharmacist, now=now - timedelta(days=400), text=_demo_list(80), filename="demo-list.csv"
        )
        receipt = allocation.receipt_record(
            lot="KET-2026-001",
            vials=300,
            mg_per_vial=Decimal("500"),
            ml_per_vial=Decimal("10"),
            expiry_date=date(2028, 6, 30),
            by=pharmacist,
            now=now - timedelta(days=39),
        )
        for i, (name, weight, height, hdrs, fate) in enumerate(DEMO_PEOPLE):
            # Screened at staggered dates so the randomized ones stand at different points of the
            # crossover: late in follow-up, in period 2, in period 1, about to start.
            start = now - timedelta(days=DEMO_START_DAYS_AGO[i])
            record = services.screening_start(
                site=services.site_get_or_create_default(), by=coordinator, now=start
            )
            if fate == "declined":
                services.screening_decline(
                    screening=record, reason="Did not wish to receive infusions", by=coordinator
                )
                continue
            services.consent_record(
                screening=record,
                version=p.consent_version,
                consented_at=start + timedelta(minutes=20),
                by=coordinator,
                now=start + timedelta(minutes=20),
            )
            exclusion = [False] * len(p.exclusion_criteria)
            if fate == "excluded":
                exclusion[4] = True  # MRI contraindication
            inclusion = [True] * len(p.inclusion_criteria)
            hdrs_criterion = criterion_index(p.inclusion_criteria, HDRS17_CRITERION)
            if hdrs_criterion is not None:  # answered as the screening total says
                inclusion[hdrs_criterion] = hdrs >= p.screening_hdrs17_min
            services.screening_assess(
                screening=record,
                inclusion_met=inclusion,
                exclusion_present=exclusion,
                hdrs17_total=hdrs,
                by=coordinator,
                now=start + timedelta(hours=1),
            )
            record.refresh_from_db()
            if record.outcome != ScreeningRecord.Outcome.ELIGIBLE:
                continue
            participant = services.participant_enroll(
                screening=record,
                by=coordinator,
                now=start + timedelta(days=1),
                baseline_weight_kg=Decimal(weight),
                height_cm=Decimal(height),
                full_name=name,
                date_of_birth=date(1970 + 3 * i, 1 + i, 10 + i),
                phone=f"55 5{i}00 00{i}{i}",
                address="Ciudad de México",
                baseline_date=(start + timedelta(days=1)).date(),
            )
            if fate != "randomized":
                continue
            self._baseline(
                participant, users["rater"], DEMO_COURSES[i][0], when=start + timedelta(days=1, hours=2)
            )
            allocation.participant_randomize(
                participant=participant, by=coordinator, now=start + timedelta(days=2)
            )
            self._infusions(
                participant,
                users,
                receipt,
                day1=(start + timedelta(days=4)).date(),
                now=now,
                miss=(1, 3) if i == 2 else None,
            )
            self._ratings(participant, users["rater"], DEMO_COURSES[i], now=now)
        first = services.site_get_or_create_default().participant_set.order_by("number").first()
        if first is not None:
            services.participant_update(
                participant=first,
                by=coordinator,
                reason="Weight re-measured on the calibrated scale",
                baseline_weight_kg=first.baseline_weight_kg - Decimal("0.6"),
            )
        for stage, day1_days_ago, ending in STAGES:
            self._stage_pair(stage, day1_days_ago, ending, users, receipt, now=now)
        allocation.stock_count_record(
            receipt=receipt,
            vials_counted=allocation.accountability_balance(receipt),
            note="Monthly count",
            by=pharmacist,
            now=now,
        )

    def _infusions(
        self,
        participant: Any,
        users: dict[str, Any],
        receipt: Any,
        *,
        day1: Any,
        now: Any,
        miss: tuple[int, int] | None,
    ) -> None:
        """Schedule from day 1 and give every infusion due before now through the real services."""
        from infusions import services as infusions

        coordinator, pharmacist, physician = (
            users["coordinator"],
            users[PHARMACIST],
            users["infusion_physician"],
        )
        participant = Participant.objects.get(pk=participant.pk)
        infusions.schedule_set(participant=participant, day1=day1, by=coordinator, now=now)
        checks = {key: True for key, _label in infusions.PRECHECKS}
        while True:
            plan = infusions.schedule_for(participant)
            upcoming = next((i for i in plan.infusions if i.status == "planned"), None)
            if upcoming is None or upcoming.start > now - timedelta(hours=3):
                return
            if miss == upcoming.key:
                infusions.infusion_mark_missed(
                    participant=participant,
                    period=upcoming.period,
                    number=upcoming.number,
                    reason="Fever the day before",
                    by=coordinator,
                )
                continue
            prep = allocation.dose_prepare(
                participant=participant,
                period=upcoming.period,
                infusion_number=upcoming.number,
                weight_kg=participant.baseline_weight_kg,
                receipt=receipt,
                by=pharmacist,
                now=upcoming.start - timedelta(hours=1),
            )
            # The second pharmacist's check, as pharmacist2 records it in their own session.
            allocation.preparation_check(
                pk=prep.pk,
                decision=allocation.CONFIRM,
                lot=prep.receipt.lot if prep.receipt else "",
                volume_drawn_ml=prep.volume_drawn_ml,
                reason="",
                by=users["pharmacist2"],
                now=upcoming.start - timedelta(minutes=45),
            )
            visit = infusions.visit_for(participant, upcoming.period, upcoming.number, by=physician)
            infusions.session_start(
                visit=visit,
                prechecks=checks,
                syringe_code=prep.syringe_code,
                pump_rate_ml_h=prep.pump_rate_ml_h,
                started_at=upcoming.start,
                by=physician,
                now=now,
            )
            for minute, systolic in ((-1, 124), (0, 126), (20, 142), (40, 136)):
                infusions.vitals_record(
                    visit=visit,
                    minute=minute,
                    systolic=systolic,
                    diastolic=82,
                    heart_rate=74,
                    spo2=97,
                    measured_at=upcoming.start + timedelta(minutes=max(minute, 0)),
                    by=physician,
                    now=now,
                )
            infusions.session_stop(
                visit=visit,
                ended_at=upcoming.start + timedelta(minutes=41),
                interruptions="",
                by=physician,
                now=now,
            )
            infusions.session_discharge(
                visit=visit, discharged_at=upcoming.start + timedelta(minutes=110), by=physician, now=now
            )

    def _stage_pair(
        self, stage: str, day1_days_ago: int, ending: str, users: dict[str, Any], receipt: Any, *, now: Any
    ) -> None:
        """Two participants, one per sequence (consecutive slots of a block of two), identical in
        every record but the allocation, standing at `stage` today."""
        p = protocol()
        coordinator = users["coordinator"]
        day1 = (now - timedelta(days=day1_days_ago)).date()
        start = now - timedelta(days=day1_days_ago + 4)
        for name in ("A", "B"):
            record = services.screening_start(
                site=services.site_get_or_create_default(), by=coordinator, now=start
            )
            services.consent_record(
                screening=record,
                version=p.consent_version,
                consented_at=start + timedelta(minutes=20),
                by=coordinator,
                now=start + timedelta(minutes=20),
            )
            services.screening_assess(
                screening=record,
                inclusion_met=[True] * len(p.inclusion_criteria),
                exclusion_present=[False] * len(p.exclusion_criteria),
                hdrs17_total=24,
                by=coordinator,
                now=start + timedelta(hours=1),
            )
            participant = services.participant_enroll(
                screening=record,
                by=coordinator,
                now=start + timedelta(days=1),
                baseline_weight_kg=Decimal("70.0"),
                height_cm=Decimal("168.0"),
                full_name=f"Etapa {stage} {name}",
                date_of_birth=date(1980, 5, 5),
                phone="55 5000 0000",
                address="Ciudad de México",
                baseline_date=(start + timedelta(days=1)).date(),
            )
            course = STAGE_RELAPSE_COURSE if ending == "relapse" else STAGE_COURSE
            self._baseline(participant, users["rater"], course[0], when=start + timedelta(days=1, hours=2))
            allocation.participant_randomize(
                participant=participant, by=coordinator, now=start + timedelta(days=2)
            )
            self._infusions(participant, users, receipt, day1=day1, now=now, miss=None)
            self._ratings(participant, users["rater"], course, now=now)
            participant = Participant.objects.get(pk=participant.pk)
            if ending == "withdrawn":
                services.participant_disposition(
                    participant=participant,
                    status=Participant.Status.WITHDRAWN,
                    on=(now - timedelta(days=2)).date(),
                    reason="Moved to another city",
                    by=coordinator,
                    now=now - timedelta(days=2),
                )
            elif ending == "unblinded":
                request = allocation.unblinding_request(
                    participant=participant,
                    reason="Serious adverse event: treating physician needs the product",
                    by=users["principal_investigator"],
                    now=now - timedelta(days=3),
                )
                allocation.unblinding_execute(
                    request=request,
                    people_informed="Treating physician, principal investigator",
                    by=users[PHARMACIST],
                    now=now - timedelta(days=3) + timedelta(hours=1),
                )

    def _baseline(self, participant: Any, rater: Any, madrs: int, *, when: Any) -> None:
        """Both baseline ratings, before randomization as the protocol requires (MADRS of the
        person's course, HDRS-17 at 0.8 of it as in _ratings)."""
        from clinimetry import services as ratings

        for instrument, total in (("madrs", madrs), ("hdrs17", round(madrs * 0.8))):
            ratings.assessment_save(
                participant=participant,
                instrument=instrument,
                task_code="baseline",
                items=spread(instrument, total),
                rated_at=when,
                recall_period="past_week",
                interview_guide="none",
                mode="in_person",
                by=rater,
                now=when,
            )

    def _ratings(
        self, participant: Any, rater: Any, course: tuple[int, int, int, dict[int, int]], *, now: Any
    ) -> None:
        """MADRS and HDRS-17 at every task already due, following the person's course."""
        from clinimetry import selectors as tasks
        from clinimetry import services as ratings

        baseline, early, period2, follow_up = course
        participant = Participant.objects.get(pk=participant.pk)
        for code in [t.code for t in tasks.all_tasks(participant)]:
            # Recomputed each time: a relapse found on the way replaces the remaining follow-up.
            task = next((t for t in tasks.all_tasks(participant) if t.code == code), None)
            if task is None or task.due > now - timedelta(hours=1) or task.complete:
                continue
            when = task.due
            if task.code in ("baseline", "p1-predose-1"):
                madrs = baseline  # before the first infusion
            elif task.code.startswith("fu-week-"):
                madrs = follow_up.get(int(task.code.rsplit("-", 1)[1]), early - 2)
            elif task.code == "end-of-study":
                madrs = 26
            else:
                madrs = period2 if task.period == 2 else early
            for instrument, total in (("madrs", madrs), ("hdrs17", round(madrs * 0.8))):
                ratings.assessment_save(
                    participant=participant,
                    instrument=instrument,
                    task_code=task.code,
                    items=spread(instrument, total),
                    rated_at=when,
                    recall_period="past_week" if task.code == "baseline" else "past_24h",
                    interview_guide="none",
                    mode="in_person",
                    by=rater,
                    now=when,  # entered at the visit, as it happened
                )
