from django.urls import path

from spectroscopy import views

app_name = "spectroscopy"

urlpatterns = [
    path("participant/<int:pk>/", views.participant_mrs, name="participant"),
    path("participant/<int:pk>/upload/", views.upload, name="upload"),
    path("participant/<int:pk>/upload/<int:upload_pk>/kind/", views.correct_kind, name="correct_kind"),
    path("participant/<int:pk>/tissue/", views.tissue, name="tissue"),
    path("participant/<int:pk>/quantify/<int:upload_pk>/", views.quantify, name="quantify"),
    path("result/<int:pk>/", views.result_page, name="result"),
    path("result/<int:pk>/report.pdf", views.result_pdf, name="report"),
    path("qc/", views.qc_dashboard, name="qc"),
]
