from django.urls import path

from infusions import views

app_name = "infusions"

session = "participant/<int:pk>/infusion/<int:period>/<int:number>/"

urlpatterns = [
    path("calendar/", views.calendar_view, name="calendar"),
    path("calendar/feed/", views.calendar_feed_settings, name="feed_settings"),
    path("calendar/closed-days/", views.closed_days, name="closed_days"),
    path("calendar/closed-days/add/", views.closed_day_add, name="closed_day_add"),
    path("calendar/closed-days/remove/", views.closed_day_remove, name="closed_day_remove"),
    path("calendar/closed-days/weekdays/", views.closed_weekdays, name="closed_weekdays"),
    path("calendar/closed-days/statutory/", views.closed_days_statutory, name="closed_days_statutory"),
    path("ical/<str:token>.ics", views.ical_feed, name="ical"),
    path("participant/<int:pk>/", views.timeline, name="timeline"),
    path("participant/<int:pk>/schedule/", views.schedule_set, name="schedule_set"),
    path("participant/<int:pk>/reschedule/", views.reschedule, name="reschedule"),
    path("participant/<int:pk>/planned-time/", views.set_time, name="set_time"),
    path("participant/<int:pk>/missed/", views.mark_missed, name="missed"),
    path("participant/<int:pk>/adverse-events/", views.adverse_events, name="adverse_events"),
    path(session, views.session, name="session"),
    path(session + "start/", views.session_start, name="session_start"),
    path(session + "scan/", views.session_scan, name="session_scan"),
    path(session + "vitals/", views.session_vitals, name="session_vitals"),
    path(session + "alert/", views.session_alert_action, name="session_alert"),
    path(session + "dissociation/", views.session_dissociation, name="session_dissociation"),
    path(session + "pause/", views.session_pause, name="session_pause"),
    path(session + "resume/", views.session_resume, name="session_resume"),
    path(session + "stop/", views.session_stop, name="session_stop"),
    path(session + "discharge/", views.session_discharge, name="session_discharge"),
    path(session + "adverse-event/", views.session_adverse_event, name="session_adverse_event"),
]
