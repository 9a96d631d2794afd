"""Admin (superuser only): read-only views; clinical writes go through services with a reason."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from participants.models import Participant, Site


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


admin.site.register(Site, ReadOnlyAdmin)
admin.site.register(Participant, ReadOnlyAdmin)
