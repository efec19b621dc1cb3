"""INSTALLED_APPS names this instead of django.contrib.admin, so `admin.site` is
neighborbid.admin_site.NeighborBidAdminSite (kept apart: the site imports forms, which need
the app registry)."""

from django.contrib.admin.apps import AdminConfig


class NeighborBidAdminConfig(AdminConfig):
    default_site = "neighborbid.admin_site.NeighborBidAdminSite"
