from django.apps import AppConfig


class SpectroscopyConfig(AppConfig):
    name = "spectroscopy"
