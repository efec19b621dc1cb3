from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("push/subscribe", views.push_subscribe, name="push_subscribe"),
    path("push/unsubscribe", views.push_unsubscribe, name="push_unsubscribe"),
    path("push/preferences", views.push_preferences, name="push_preferences"),
]
