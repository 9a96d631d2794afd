from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from outcomes import api
from participants.access import ACCESS_ATTR, PUBLIC

app_name = "api"

schema_view = SpectacularAPIView.as_view()
setattr(schema_view, ACCESS_ATTR, PUBLIC)  # the schema describes the API; it holds no data

urlpatterns = [
    path("schema/", schema_view, name="schema"),
    path("token/", api.TokenView.as_view(), name="token"),
    path("participants/", api.ParticipantsTable.as_view(), name="participants"),
    path("long/", api.LongTable.as_view(), name="long"),
    path("wide/", api.WideTable.as_view(), name="wide"),
    path("mrs/", api.MrsTable.as_view(), name="mrs"),
]
