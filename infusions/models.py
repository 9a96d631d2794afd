"""Infusion schedule anchors, infusion sessions, vitals, dissociation scales, adverse events."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ketatrial.audit import ClinicalModel
from participants.models import Participant


class Schedule(ClinicalModel):
    """Day 1 of period 1 for a randomized participant; the rest is computed (infusions.schedule)."""

    participant = models.OneToOneField(Participant, on_delete=models.PROTECT, related_name="schedule")
    day1 = models.DateField(_("day 1 (first infusion)"))

    class Meta:
        verbose_name = _("schedule")

    def __str__(self) -> str:
        return f"schedule of {self.participant}"


class InfusionVisit(ClinicalModel):
    """One infusion of one participant: rescheduling, missing, and the session at the chair."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        STOPPED = "stopped", _("Stopped early")
        MISSED = "missed", _("Missed")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="infusion_visits")
    period = models.PositiveSmallIntegerField(
        _("period"), validators=[MinValueValidator(1), MaxValueValidator(2)]
    )
    number = models.PositiveSmallIntegerField(
        _("infusion"), validators=[MinValueValidator(1), MaxValueValidator(8)]
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PLANNED)
    planned_date = models.DateField(_("planned date"), null=True, blank=True)
    # The coordinator's planned start; empty: the protocol's usual start (infusion_start_clock).
    planned_time = models.TimeField(_("planned start time"), null=True, blank=True)
    schedule_note = models.TextField(_("scheduling note"), blank=True)
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    prechecks = models.JSONField(_("pre-infusion checks"), default=dict, blank=True)
    syringe_code = models.CharField(_("syringe code"), max_length=20, blank=True)
    pump_rate_ml_h = models.DecimalField(
        _("pump rate (mL/h)"), max_digits=6, decimal_places=1, null=True, blank=True
    )
    started_at = models.DateTimeField(_("start"), null=True, blank=True)
    ended_at = models.DateTimeField(_("stop"), null=True, blank=True)
    interruptions = models.TextField(_("interruptions"), blank=True)
    discharged_at = models.DateTimeField(_("discharge"), null=True, blank=True)

    class Meta:
        ordering = ["participant", "period", "number"]
        verbose_name = _("infusion")
        constraints = [
            models.UniqueConstraint(fields=["participant", "period", "number"], name="one_visit_per_infusion")
        ]

    def __str__(self) -> str:
        return f"{self.participant} P{self.period}-{self.number}"


class VitalSigns(ClinicalModel):
    """One set of vitals at a protocol time (minute -1 = before the start), or an extra reading at
    any time (unscheduled: a repeat blood pressure between the protocol times), whose minute is
    the time since the start (-1 before it)."""

    class Action(models.TextChoices):
        PAUSE = "pause", _("Pause the infusion")
        STOP = "stop", _("Stop the infusion")
        CONTINUE = "continue", _("Continue (reason required)")

    visit = models.ForeignKey(InfusionVisit, on_delete=models.PROTECT, related_name="vitals")
    minute = models.SmallIntegerField(_("time point (min)"))
    unscheduled = models.BooleanField(_("extra reading (unscheduled)"), default=False)
    measured_at = models.DateTimeField(_("measured at"))
    systolic = models.PositiveSmallIntegerField(_("systolic (mmHg)"))
    diastolic = models.PositiveSmallIntegerField(_("diastolic (mmHg)"))
    heart_rate = models.PositiveSmallIntegerField(_("heart rate (bpm)"))
    spo2 = models.PositiveSmallIntegerField(_("SpO2 (%)"))
    alerts = models.JSONField(_("alerts"), default=list, blank=True)
    # Unusual values saved once confirmed: field -> the reason (infusions/vitals.py UNUSUAL_OUTSIDE).
    confirmations = models.JSONField(_("unusual values confirmed"), default=dict, blank=True)
    action = models.CharField(_("action"), max_length=10, choices=Action.choices, blank=True)
    action_reason = models.TextField(_("reason for the action"), blank=True)
    action_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["visit", "minute"]
        verbose_name = _("vital signs")
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "minute"],
                condition=models.Q(unscheduled=False),
                name="one_vitals_per_timepoint",
            )
        ]

    def __str__(self) -> str:
        extra = " (extra)" if self.unscheduled else ""
        return f"{self.visit} {self.minute} min{extra}"


class InfusionPause(ClinicalModel):
    """A pause of a running infusion: the physician pauses (time, reason) and resumes (time); the
    infused time leaves the pauses out (infusions.schedule.running_time). A pause never resumed
    lasts until the recorded stop."""

    visit = models.ForeignKey(InfusionVisit, on_delete=models.PROTECT, related_name="pauses")
    paused_at = models.DateTimeField(_("paused at"))
    reason = models.TextField(_("reason for the pause"))
    resumed_at = models.DateTimeField(_("resumed at"), null=True, blank=True)
    paused_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["visit", "paused_at"]
        verbose_name = _("infusion pause")

    def __str__(self) -> str:
        return f"{self.visit} paused {self.paused_at:%Y-%m-%d %H:%M}"


class DissociationRating(ClinicalModel):
    """CADSS (23 items) and BPRS positive subscale (4 items) at a protocol minute."""

    visit = models.ForeignKey(InfusionVisit, on_delete=models.PROTECT, related_name="dissociation")
    minute = models.SmallIntegerField(_("time point (min)"))
    cadss_items = models.JSONField(_("CADSS items"))
    cadss_total = models.PositiveSmallIntegerField(_("CADSS total"))
    bprs_items = models.JSONField(_("BPRS+ items"))
    bprs_total = models.PositiveSmallIntegerField(_("BPRS+ total"))
    rated_at = models.DateTimeField(_("rated at"))

    class Meta:
        ordering = ["visit", "minute"]
        constraints = [
            models.UniqueConstraint(fields=["visit", "minute"], name="one_dissociation_per_timepoint")
        ]

    def __str__(self) -> str:
        return f"{self.visit} CADSS/BPRS+ {self.minute} min"


class AdverseEvent(ClinicalModel):
    """An adverse event; serious (ICH E2A) when it meets one seriousness criterion or more. Written
    only through infusions.services (reported, changed with a reason, followed up)."""

    class Severity(models.TextChoices):
        MILD = "mild", _("Mild")
        MODERATE = "moderate", _("Moderate")
        SEVERE = "severe", _("Severe")

    class Relatedness(models.TextChoices):
        NOT_RELATED = "not_related", _("Not related")
        UNLIKELY = "unlikely", _("Unlikely")
        POSSIBLE = "possible", _("Possible")
        PROBABLE = "probable", _("Probable")
        DEFINITE = "definite", _("Definite")
        # The rest of the WHO-UMC scale: a judgement that cannot be made yet, or at all.
        CONDITIONAL = "conditional", _("Conditional (more data needed)")
        UNASSESSABLE = "unassessable", _("Unassessable (information insufficient or contradictory)")

    class Criterion(models.TextChoices):
        """ICH E2A seriousness criteria; an event may meet several."""

        DEATH = "death", _("Results in death")
        LIFE_THREATENING = "life_threatening", _("Is life-threatening")
        HOSPITALISATION = "hospitalisation", _("Requires in-patient hospitalisation or prolongs it")
        DISABILITY = "disability", _("Results in persistent or significant disability or incapacity")
        CONGENITAL_ANOMALY = "congenital_anomaly", _("Is a congenital anomaly or birth defect")
        MEDICALLY_IMPORTANT = "medically_important", _("Other medically important event")

    class Expectedness(models.TextChoices):
        EXPECTED = "expected", _("Expected (listed in the reference safety information)")
        UNEXPECTED = "unexpected", _("Unexpected")

    class Action(models.TextChoices):
        NONE = "none", _("None")
        PAUSED = "paused", _("Infusion paused")
        STOPPED = "stopped", _("Infusion stopped")
        TREATED = "treated", _("Treated")
        WITHDRAWN = "withdrawn", _("Participant withdrawn")

    class Outcome(models.TextChoices):
        RECOVERED = "recovered", _("Recovered")
        RECOVERING = "recovering", _("Recovering")
        NOT_RECOVERED = "not_recovered", _("Not recovered")
        SEQUELAE = "sequelae", _("Recovered with sequelae")
        FATAL = "fatal", _("Fatal")
        UNKNOWN = "unknown", _("Unknown")

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="adverse_events")
    visit = models.ForeignKey(
        InfusionVisit, on_delete=models.PROTECT, null=True, blank=True, related_name="adverse_events"
    )
    term = models.CharField(_("term"), max_length=200)
    category = models.CharField(_("category"), max_length=100)
    onset = models.DateTimeField(_("onset"))
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    # Kept with the criteria by the service: serious exactly when a criterion is met.
    serious = models.BooleanField(_("serious"), default=False)
    seriousness_criteria = models.JSONField(_("seriousness criteria"), default=list, blank=True)
    relatedness = models.CharField(
        _("causality (relatedness to the study infusion)"), max_length=12, choices=Relatedness.choices
    )
    expectedness = models.CharField(
        _("expectedness"), max_length=10, choices=Expectedness.choices, blank=True
    )
    action = models.CharField(_("action taken"), max_length=10, choices=Action.choices)
    outcome = models.CharField(_("outcome"), max_length=14, choices=Outcome.choices)
    outcome_date = models.DateField(_("outcome date"), null=True, blank=True)
    narrative = models.TextField(_("narrative"), blank=True)
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reported_at = models.DateTimeField(_("reported at"))

    # Causality that counts as a suspected reaction ("a reasonable possibility", ICH E2A).
    RELATED = frozenset({Relatedness.POSSIBLE, Relatedness.PROBABLE, Relatedness.DEFINITE})
    # Outcomes that close the event (the others are followed up).
    RESOLVED = frozenset({Outcome.RECOVERED, Outcome.SEQUELAE, Outcome.FATAL})

    class Meta:
        ordering = ["-onset"]
        verbose_name = _("adverse event")

    def __str__(self) -> str:
        return self.term

    @property
    def is_related(self) -> bool:
        return self.relatedness in self.RELATED

    @property
    def is_resolved(self) -> bool:
        return self.outcome in self.RESOLVED

    @property
    def is_susar(self) -> bool:
        """A suspected unexpected serious adverse reaction: serious, related and unexpected."""
        return self.serious and self.is_related and self.expectedness == self.Expectedness.UNEXPECTED

    def criteria_labels(self) -> list[str]:
        labels = dict(self.Criterion.choices)
        return [str(labels.get(c, c)) for c in self.seriousness_criteria or []]


class AdverseEventFollowUp(ClinicalModel):
    """A dated piece of follow-up information on an adverse event (new facts, treatment, course)."""

    event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="follow_ups")
    on = models.DateField(_("date of the information"))
    note = models.TextField(_("follow-up note"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        ordering = ["on", "pk"]
        verbose_name = _("adverse-event follow-up")

    def __str__(self) -> str:
        return f"{self.event} follow-up {self.on:%Y-%m-%d}"


class CalendarToken(models.Model):
    """Secret token for a user's iCal feed (revocable by generating a new one)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_token"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"calendar token of {self.user}"


class ScheduleSpan(models.Model):
    """Derived, not clinical: the first and last moment of a participant's computed schedule
    (infusions, rating windows, MRS sessions, an end-of-study visit after a relapse), so the task
    list and the calendar build only the schedules that can have something in the shown time,
    whatever the trial's size. Written whenever the schedule's inputs change (the anchor, a visit;
    infusions.apps) and nightly; a missing row, or one made under another protocol, counts as
    "may be active" (the page builds that schedule), so a stale span can cost time, never a task."""

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, primary_key=True, related_name="schedule_span"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(db_index=True)
    protocol_key = models.CharField(max_length=64)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"span of {self.participant_id}: {self.starts_at:%Y-%m-%d} to {self.ends_at:%Y-%m-%d}"


class ClosedDay(ClinicalModel):
    """A day the site is closed (a holiday, a site closure), set by the study team. Booking and
    rescheduling warn when a visit falls on it, and the calendar marks it; the protocol windows
    come first, so it is a warning, not a refusal."""

    class Source(models.TextChoices):
        TEAM = "team", _("Set by the study team")
        STATUTORY = "statutory", _("Statutory holiday")

    day = models.DateField(_("day"), unique=True)
    name = models.CharField(_("name"), max_length=200)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.TEAM)

    class Meta:
        ordering = ["day"]
        verbose_name = _("closed day")

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.name}"


class ClosedWeekdays(ClinicalModel):
    """The weekdays the site is closed (0 = Monday), as the study team set them: one row at most;
    without it the protocol's default applies (Protocol.closed_weekdays: Saturday and Sunday)."""

    weekdays = models.JSONField(_("closed weekdays"), default=list, blank=True)

    class Meta:
        verbose_name = _("closed weekdays")

    def __str__(self) -> str:
        return f"closed weekdays {self.weekdays}"
