from django.urls import path

from participants import views, views_pharmacy, views_sites

app_name = "participants"

urlpatterns = [
    path("", views.participant_list, name="list"),
    path("<int:pk>/", views.participant_detail, name="detail"),
    path("<int:pk>/edit/", views.participant_edit, name="edit"),
    path("<int:pk>/randomize/", views.participant_randomize, name="randomize"),
    path("<int:pk>/identity/", views.participant_identity, name="identity"),
    path("<int:pk>/disposition/", views.participant_disposition, name="disposition"),
    path("<int:pk>/unblinding/", views.unblinding_request, name="unblinding_request"),
    path("unblinding/", views.unblinding_list, name="unblinding_list"),
    path("screening/", views.screening_list, name="screening_list"),
    path("screening/<int:pk>/", views.screening_detail, name="screening"),
    path("screening/<int:pk>/consent/", views.screening_consent, name="screening_consent"),
    path("screening/<int:pk>/eligibility/", views.screening_eligibility, name="screening_eligibility"),
    path("screening/<int:pk>/decline/", views.screening_decline, name="screening_decline"),
    path("screening/<int:pk>/enroll/", views.screening_enroll, name="screening_enroll"),
    path("users/", views.users, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/unlock/", views.user_unlock, name="user_unlock"),
    path("sites/", views_sites.sites, name="sites"),
    path("sites/<int:pk>/", views_sites.site_edit, name="site_edit"),
    path("pharmacy/", views_pharmacy.pharmacy_home, name="pharmacy"),
    path("pharmacy/list/generate/", views_pharmacy.list_generate, name="list_generate"),
    path("pharmacy/list/upload/", views_pharmacy.list_upload, name="list_upload"),
    path("pharmacy/list/<int:pk>/parameters.csv", views_pharmacy.list_parameters, name="list_parameters"),
    path("pharmacy/list/<int:pk>/list.csv", views_pharmacy.list_download, name="list_download"),
    path("pharmacy/kit/unavailable/", views_pharmacy.kit_unavailable, name="kit_unavailable"),
    path("pharmacy/kit/replace/", views_pharmacy.kit_replace, name="kit_replace"),
    path("pharmacy/participant/<int:pk>/", views_pharmacy.preparations, name="preparations"),
    path(
        "pharmacy/preparation/<int:pk>/label.pdf", views_pharmacy.preparation_label, name="preparation_label"
    ),
    path("pharmacy/preparation/<int:pk>/check/", views_pharmacy.preparation_check, name="preparation_check"),
    path("pharmacy/accountability/", views_pharmacy.accountability, name="accountability"),
    path("pharmacy/accountability/register.csv", views_pharmacy.register_download, name="register_csv"),
    path("pharmacy/register/<int:pk>/witness/", views_pharmacy.waste_witness, name="waste_witness"),
    path("pharmacy/unblinding/<int:pk>/", views_pharmacy.unblinding_execute, name="unblinding_execute"),
]
