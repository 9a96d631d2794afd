from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from ketatrial import views, views_audit, views_sign_in
from participants.access import authenticated, public

handler403 = "ketatrial.views.error_403"
handler404 = "ketatrial.views.error_404"
handler500 = "ketatrial.views.error_500"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views_sign_in.login_view, name="login"),
    path("accounts/second-factor/", views_sign_in.second_factor, name="second_factor"),
    path("accounts/logout/", public(auth_views.LogoutView.as_view()), name="logout"),
    path(
        "accounts/password/",
        authenticated(auth_views.PasswordChangeView.as_view()),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        authenticated(auth_views.PasswordChangeDoneView.as_view()),
        name="password_change_done",
    ),
    path("home/<slug:role>/", views.role_home, name="role_home"),
    path("protocol/", views.protocol_page, name="protocol"),
    path("language/", views.set_language, name="set_language"),
    path("session/keep-alive/", views.session_keep_alive, name="session_keep_alive"),
    path("status/", views.system_status, name="system_status"),
    path("health/", views.health, name="health"),
    path("audit/", views_audit.audit_index, name="audit_index"),
    path("audit/export.csv", views_audit.audit_csv, name="audit_csv"),
    path("audit/allocation-views/", views_audit.allocation_views, name="allocation_views"),
    path("audit/<str:label>/<int:pk>/", views_audit.audit_record, name="audit_record"),
    path("participants/", include("participants.urls")),
    path("infusions/", include("infusions.urls")),
    path("ratings/", include("clinimetry.urls")),
    path("mrs/", include("spectroscopy.urls")),
    path("outcomes/", include("outcomes.urls")),
    path("review/", include("review.urls")),
    path("safety/", include("safety.urls")),
    path("conduct/", include("conduct.urls")),
    path("api/v1/", include("outcomes.api_urls")),
    path("admin/", admin.site.urls),
]
