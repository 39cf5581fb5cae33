from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "apps.analysis"
    label = "analysis"

    def ready(self) -> None:
        """Be the incidents' analyser (apps.incidents.hooks): apps beside this one (alerts
        opening an incident for an inbound alert) ask for an analysis through it."""
        from apps.analysis import services
        from apps.incidents import hooks

        hooks.register_analyser(lambda incident: services.request_analysis(incident=incident))
