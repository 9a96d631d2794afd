from django.http import HttpResponse
from django.urls import path


def undeclared(request):  # an access declaration was "forgotten" on purpose
    return HttpResponse("secret")


urlpatterns = [path("undeclared/", undeclared)]
