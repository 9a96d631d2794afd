"""A participant's casebook as a PDF: every form the reader may see, field by field, with its
verification, its queries and the principal investigator's signature; and the close-out archive
of every casebook (one PDF each, a manifest with their SHA-256)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string

from participants.models import Participant
from review import records, services
from review.models import CasebookSignature, Query


def casebook_html(user: AbstractBaseUser, person: Participant, *, now: datetime) -> str:
    forms = []
    for form in records.casebook(user, person.pk):
        fields = records.reviewable_fields(user, form.label)
        state = services.verification_state(form.label, str(form.record.pk), [f.name for f in fields])
        forms.append(
            {
                "name": form.name,
                "record": str(form.record),
                "fields": [
                    (f.verbose_name, records.field_value(form.record, f), bool(state.get(f.name)))
                    for f in fields
                ],
                "queries": [
                    q
                    for q in Query.objects.filter(
                        record_model=form.label, record_id=str(form.record.pk)
                    ).prefetch_related("messages")
                    if services.query_visible(user, q)
                ],
            }
        )
    return render_to_string(
        "review/casebook_pdf.html",
        {
            "person": person,
            "forms": forms,
            "signature": services.signature_active(person.pk),
            "voided": CasebookSignature.objects.filter(participant=person, voided_at__isnull=False),
            "now": now,
            "reader": user,
        },
    )


def casebook_pdf(user: AbstractBaseUser, person: Participant, *, now: datetime) -> bytes:
    from weasyprint import HTML  # imported here: the rest of the site runs without Pango

    return HTML(string=casebook_html(user, person, now=now)).write_pdf()


def archive_write(user: AbstractBaseUser, target: Path, *, now: datetime) -> dict[str, Any]:
    """Every casebook as a PDF in one zip, with a manifest (signature state and SHA-256 of each)."""
    manifest: dict[str, Any] = {"created_at": now.isoformat(), "by": user.get_username(), "casebooks": []}
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for person in Participant.objects.order_by("code"):
            pdf = casebook_pdf(user, person, now=now)
            name = f"casebook-{person.code}.pdf"
            archive.writestr(name, pdf)
            signature = services.signature_active(person.pk)
            manifest["casebooks"].append(
                {
                    "participant": person.code,
                    "file": name,
                    "sha256": hashlib.sha256(pdf).hexdigest(),
                    "signed_by": signature.signed_by.get_username() if signature else None,
                    "signed_at": signature.signed_at.isoformat() if signature else None,
                }
            )
        archive.writestr("manifest.json", json.dumps(manifest, indent=1))
    return manifest
