from django.apps import AppConfig


class ScimApiConfig(AppConfig):
    name = "scim_api"
    verbose_name = "SCIM API"

    def ready(self) -> None:
        from directory.services import events
        from scim_api.events import events_draw

        events.RENDERER = events_draw  # the resource as SCIM renders it (directory.services.events)
