from django.urls import path

from clinimetry import views

app_name = "clinimetry"

urlpatterns = [
    path("", views.tasks, name="tasks"),
    path("participant/<int:pk>/", views.participant, name="participant"),
    path("participant/<int:pk>/rate/<slug:instrument>/<slug:ref>/", views.rate, name="rate"),
    path("participant/<int:pk>/relapse-event/", views.relapse_event, name="relapse_event"),
    path("participant/<int:pk>/blinding-guess/", views.blinding_guess, name="blinding_guess"),
    path("assessment/<int:pk>/", views.assessment, name="assessment"),
    path("assessment/<int:pk>/sign/", views.sign, name="sign"),
    path("assessment/<int:pk>/safety/", views.safety, name="safety"),
]
