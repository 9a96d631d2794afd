"""Read-only statistician API (token authentication), with the exports' blinding rules: the
statistician reads the coded data set (baseline and period 1, sequence A/B) until the key is
released, then may ask for ?unblinded=1; the data manager reads it without any sequence."""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers
from rest_framework.exceptions import PermissionDenied as ApiDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ketatrial.allocation_log import log_allocation_view
from ketatrial.protocol import DATA_MANAGER, STATISTICIAN
from outcomes import levels, services
from participants.access import ACCESS_ATTR, PUBLIC, has_role


class StudyDataReader(permissions.BasePermission):
    message = "Only the statistician and the data manager read the study data."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and has_role(request.user, STATISTICIAN, DATA_MANAGER)
        )


def _records(frame: Any) -> list[dict[str, Any]]:
    rows = frame.to_dict(orient="records")
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows
    ]


UNBLINDED = OpenApiParameter(
    "unblinded", OpenApiTypes.BOOL, description="Statistician only, after the sequence key is released."
)
PAGE = [
    OpenApiParameter("offset", OpenApiTypes.INT, description="First row (default 0)."),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Rows per page (default 1000, at most 10000)."),
]
PAGE_SCHEMA = inline_serializer(
    "DataPage",
    {
        "blinding": serializers.ChoiceField(choices=[levels.BLINDED, levels.NO_SEQUENCE, levels.UNBLINDED]),
        "data_hash": serializers.CharField(),
        "count": serializers.IntegerField(),
        "offset": serializers.IntegerField(),
        "columns": serializers.ListField(child=serializers.CharField()),
        "results": serializers.ListField(child=serializers.DictField()),
    },
)


class _Table(APIView):
    table = ""
    permission_classes = [StudyDataReader]

    def get(self, request: Request) -> Response:
        try:
            blinding = services.blinding_for(
                request.user, unblinded=request.query_params.get("unblinded") in ("1", "true")
            )
        except PermissionDenied as exc:
            raise ApiDenied(
                "Unblinded data open only to the statistician after the key is released."
            ) from exc
        if blinding == levels.UNBLINDED:
            log_allocation_view(request, "unblinded_api")
        data = _dataset().build(request.user, blinding, now=timezone.now())
        frame = getattr(data, self.table)
        try:
            offset = max(0, int(request.query_params.get("offset", 0)))
            limit = min(10000, max(1, int(request.query_params.get("limit", 1000))))
        except ValueError:
            return Response({"detail": "offset and limit are whole numbers"}, status=400)
        return Response(
            {
                "blinding": blinding,
                "data_hash": data.data_hash,
                "count": len(frame),
                "offset": offset,
                "columns": list(frame.columns),
                "results": _records(frame.iloc[offset : offset + limit]),
            }
        )


setattr(_Table, ACCESS_ATTR, PUBLIC)  # the API authenticates by token itself (DRF), not by session


def _table_view(name: str, doc: str) -> type[_Table]:
    def get(self: _Table, request: Request) -> Response:
        return _Table.get(self, request)

    documented = extend_schema(
        parameters=[UNBLINDED, *PAGE], responses=PAGE_SCHEMA, operation_id=f"{name}_list", description=doc
    )(get)
    return type(f"{name.title()}Table", (_Table,), {"table": name, "__doc__": doc, "get": documented})


ParticipantsTable = _table_view("participants", "One row per participant.")
LongTable = _table_view("long", "One row per participant x period x timepoint x instrument.")
WideTable = _table_view("wide", "One row per participant: totals, % change and response per timepoint.")
MrsTable = _table_view("mrs", "One row per MRS result.")


class TokenView(APIView):
    """Issue (or replace) the caller's API token; signed in with a session that passed the second
    factor (a token cannot renew itself: it carries no second factor)."""

    permission_classes = [StudyDataReader]

    @extend_schema(request=None, responses=inline_serializer("Token", {"token": serializers.CharField()}))
    def post(self, request: Request) -> Response:
        device = getattr(request.user, "otp_device", None) if request.auth is None else None
        try:
            token = services.api_token_renew(user=request.user, verified_by=device)
        except PermissionDenied as exc:
            raise ApiDenied(str(exc)) from exc
        return Response({"token": token.key})


setattr(TokenView, ACCESS_ATTR, PUBLIC)


def _dataset():  # type: ignore[no-untyped-def]
    """outcomes.dataset, imported when a data set is built (it brings pandas)."""
    from outcomes import dataset

    return dataset
