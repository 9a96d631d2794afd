from django.urls import path

from outcomes import views

app_name = "outcomes"

urlpatterns = [
    path("", views.index, name="index"),
    path("lock/", views.lock_page, name="lock"),
    path("lock/lock/", views.lock, name="lock_do"),
    path("lock/unlock/", views.unlock, name="unlock"),
    path("release/", views.release, name="release"),
    path("exports/", views.exports, name="exports"),
    path("exports/new/", views.export_new, name="export_new"),
    path("exports/<int:pk>/status/", views.export_status, name="export_status"),
    path("api-token/", views.api_token, name="api_token"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("analyses/", views.analyses, name="analyses"),
    path("analyses/run/", views.analyses_run_now, name="analyses_run"),
    path("analyses/<int:pk>/report.pdf", views.analysis_report, name="analysis_report"),
    path("analyses/<int:pk>/report/", views.analysis_report_page, name="analysis_report_page"),
    path("consort/", views.consort, name="consort"),
    path("status-report.pdf", views.status_report, name="status_report"),
]
