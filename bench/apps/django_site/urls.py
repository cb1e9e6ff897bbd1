"""The one URL of the bench's Django project."""

from django.urls import path

from django_site import views

urlpatterns = [path("", views.table, name="table")]
