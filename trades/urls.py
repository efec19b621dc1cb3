from django.urls import path

from trades import views

app_name = "trades"

urlpatterns = [
    path("", views.trade_list, name="list"),
    path("<int:pk>/", views.trade_detail, name="detail"),
    path("<int:pk>/hand-over/", views.hand_over, name="hand_over"),
    path("<int:pk>/ship/", views.ship, name="ship"),
    path("<int:pk>/confirm/", views.confirm, name="confirm"),
    path("<int:pk>/refund/", views.refund, name="refund"),
    path("<int:pk>/dispute/", views.dispute, name="dispute"),
    path("auction/<int:auction_id>/", views.trade_for_auction, name="for_auction"),
]
