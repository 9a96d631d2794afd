from django.urls import path

from conduct import views

app_name = "conduct"

urlpatterns = [
    path("participant/<int:pk>/medications/", views.medications, name="medications"),
    path("participant/<int:pk>/prior-treatments/add/", views.prior_treatment_add, name="prior_treatment_add"),
    path("participant/<int:pk>/medications/add/", views.medication_add, name="medication_add"),
    path("prior-treatments/<int:pk>/edit/", views.prior_treatment_edit, name="prior_treatment_edit"),
    path("medications/<int:pk>/edit/", views.medication_edit, name="medication_edit"),
    path("participant/<int:pk>/pregnancy/", views.pregnancy, name="pregnancy"),
    path(
        "participant/<int:pk>/childbearing-potential/",
        views.childbearing_potential,
        name="childbearing_potential",
    ),
    path("participant/<int:pk>/pregnancy-tests/add/", views.pregnancy_test_add, name="pregnancy_test_add"),
    path("pregnancy-tests/<int:pk>/edit/", views.pregnancy_test_edit, name="pregnancy_test_edit"),
    path("staff/", views.staff_log, name="staff_log"),
    path("staff/export.csv", views.staff_log_csv, name="staff_log_csv"),
    path("staff/delegations/add/", views.delegation_add, name="delegation_add"),
    path("staff/delegations/<int:pk>/edit/", views.delegation_edit, name="delegation_edit"),
    path("staff/delegations/<int:pk>/sign/", views.delegation_sign, name="delegation_sign"),
    path("staff/training/add/", views.training_add, name="training_add"),
    path("staff/training/<int:pk>/edit/", views.training_edit, name="training_edit"),
    path("downtime/", views.downtime, name="downtime"),
    path("downtime/forms/<slug:kind>.pdf", views.paper_form, name="paper_form"),
    path("downtime/paper-entry/", views.paper_entry, name="paper_entry"),
    path("downtime/code-break.pdf", views.code_break, name="code_break"),
]
