from django.urls import path

from review import views

app_name = "review"

urlpatterns = [
    path("queries/", views.query_list, name="queries"),
    path("queries/<int:pk>/", views.query_detail, name="query"),
    path("casebooks/", views.casebooks, name="casebooks"),
    path("deviations/", views.deviations, name="deviations"),
    path("participant/<int:pk>/", views.casebook, name="casebook"),
    path("participant/<int:pk>/casebook.pdf", views.casebook_pdf_view, name="casebook_pdf"),
    path("record/<str:label>/<str:record_id>/", views.record, name="record"),
]
