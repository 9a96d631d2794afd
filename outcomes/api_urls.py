from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils.module_loading import import_string

from participants.access import ACCESS_ATTR, PUBLIC

app_name = "api"


class LazyApiView:
    """A Django REST framework view imported at its first request (or when the schema generator
    asks for its class): the web process and `manage.py check` start without DRF and
    drf-spectacular, about 0.08 s of imports that only the statistician's API uses.

    It stands in for what `APIView.as_view()` returns: callable, CSRF-exempt (DRF checks CSRF
    itself for session authentication), with `cls` and `initkwargs` for drf-spectacular, which
    also swaps `cls` for a moment while it builds the schema."""

    csrf_exempt = True

    def __init__(self, dotted: str) -> None:
        self.dotted = dotted
        self._view: Any = None
        self._cls: Any = None
        # The API authenticates by token itself (DRF), not by session; the schema holds no data.
        setattr(self, ACCESS_ATTR, PUBLIC)

    def _loaded(self) -> Any:
        if self._view is None:
            self._view = import_string(self.dotted).as_view()
        return self._view

    @property
    def cls(self) -> Any:
        return self._cls or self._loaded().cls

    @cls.setter
    def cls(self, value: Any) -> None:
        self._cls = value

    @property
    def initkwargs(self) -> dict[str, Any]:
        return self._loaded().initkwargs

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self._loaded()(request, *args, **kwargs)


urlpatterns = [
    path("schema/", LazyApiView("drf_spectacular.views.SpectacularAPIView"), name="schema"),
    path("token/", LazyApiView("outcomes.api.TokenView"), name="token"),
    path("participants/", LazyApiView("outcomes.api.ParticipantsTable"), name="participants"),
    path("long/", LazyApiView("outcomes.api.LongTable"), name="long"),
    path("wide/", LazyApiView("outcomes.api.WideTable"), name="wide"),
    path("mrs/", LazyApiView("outcomes.api.MrsTable"), name="mrs"),
]
