from django.urls import path

from auctions import views

app_name = "auctions"

urlpatterns = [
    path("", views.home, name="home"),
    path("auctions/new/", views.create, name="create"),
    path("auctions/<int:pk>/", views.detail, name="detail"),
    path("auctions/<int:pk>/state.json", views.state_json, name="state_json"),
    path("auctions/<int:pk>/edit/", views.edit, name="edit"),
    path("auctions/<int:pk>/cancel/", views.cancel, name="cancel"),
    path("auctions/<int:pk>/end/", views.end_early, name="end_early"),
    path("auctions/<int:pk>/bid/", views.bid, name="bid"),
    path("auctions/<int:pk>/bids/", views.bid_history, name="bids"),
    path("auctions/<int:pk>/verify/", views.verify, name="verify"),
    path("auctions/<int:pk>/verify.json", views.verify_json, name="verify_json"),
    path("auctions/<int:pk>/buy-now/", views.buy_now, name="buy_now"),
    path("auctions/<int:pk>/watch/", views.watch, name="watch"),
    path("auctions/<int:pk>/report/", views.report, name="report"),
    path("me/", views.my_page, name="my"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/unread.json", views.unread_json, name="unread_json"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
]
