"""The data manager's sites: a second site is configuration (a row here and the accounts' sites
on the user page), not a migration."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from participants import services
from participants.access import capability_required, not_found
from participants.forms_sites import SiteForm
from participants.selectors import site_get, site_list


@capability_required("manage_users")
def sites(request: HttpRequest) -> HttpResponse:
    """Every site with its participants and accounts; a new one from the form below."""
    form = SiteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            site = services.site_create(code=form.cleaned_data["code"], name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Site %s added.") % site.code)
            return redirect("participants:sites")
    return render(
        request,
        "participants/sites.html",
        {"sites": site_list(), "form": form},
        status=400 if form.is_bound else 200,
    )


@capability_required("manage_users")
def site_edit(request: HttpRequest, pk: int) -> HttpResponse:
    site = site_get(pk)
    if site is None:
        raise not_found()
    form = SiteForm(request.POST or None, editing=True, initial={"code": site.code, "name": site.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.site_update(site=site, name=form.cleaned_data["name"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Site %s saved.") % site.code)
            return redirect("participants:sites")
    return render(
        request,
        "participants/form.html",
        {"form": form, "title": _("Site %s") % site.code},
        status=400 if form.is_bound else 200,
    )
