from django.apps import AppConfig


class ClinimetryConfig(AppConfig):
    name = "clinimetry"
