from django.urls import path

from safety import views

app_name = "safety"

urlpatterns = [
    path("", views.summary, name="summary"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/<int:pk>/acknowledge/", views.notification_ack, name="notification_acknowledge"),
    path("adverse-events/", views.adverse_event_list, name="adverse_events"),
    path("adverse-events/<int:pk>/", views.adverse_event, name="adverse_event"),
    path("adverse-events/<int:pk>/edit/", views.adverse_event_edit, name="adverse_event_edit"),
    path("adverse-events/<int:pk>/follow-up/", views.adverse_event_follow_up, name="adverse_event_follow_up"),
    path("suicide-risk/", views.suicide_followups, name="suicide_followups"),
    path("suicide-risk/<int:pk>/", views.suicide_followup, name="suicide_followup"),
    path("suicide-risk/<int:pk>/record/", views.suicide_followup_record, name="suicide_followup_record"),
    path("suicide-risk/<int:pk>/close/", views.suicide_followup_close, name="suicide_followup_close"),
]
