from django.urls import path

from participants import views

app_name = "participants"

urlpatterns = [
    path("", views.participant_list, name="list"),
    path("new/", views.participant_create, name="create"),
    path("<int:pk>/", views.participant_detail, name="detail"),
    path("<int:pk>/edit/", views.participant_edit, name="edit"),
    path("users/", views.users, name="users"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/unlock/", views.user_unlock, name="user_unlock"),
]
