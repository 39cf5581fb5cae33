"""The framework-free cores: parsing, grouping, the rule engine, evidence, analysis and rendering.

Nothing under ``apps.core`` imports Django or any ``apps.*`` package above it; the Django apps
wrap these modules (models, services, views, tasks). The import contract in ``make lint`` and
``tests/test_no_django.py`` keep it that way, and ``make test-core`` runs their tests in seconds
without a database. Not a Django app: it is not in ``INSTALLED_APPS``.
"""
