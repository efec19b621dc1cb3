from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.room_list, name="list"),
    path("unread/", views.unread, name="unread"),
    path("trade/<int:trade_id>/", views.trade_room, name="trade_room"),
    path("<int:room_id>/", views.room, name="room"),
    path("<int:room_id>/messages/", views.room_messages, name="messages"),
    path("<int:room_id>/send/", views.send, name="send"),
    path("<int:room_id>/photo/", views.send_photo, name="photo"),
    path("<int:room_id>/meeting/", views.meeting_propose, name="meeting_propose"),
    path("<int:room_id>/meeting/<int:message_id>/accept/", views.meeting_accept, name="meeting_accept"),
    path("<int:room_id>/read/", views.mark_read, name="read"),
    path("<int:room_id>/hide/<int:message_id>/", views.hide, name="hide"),
    path("<int:room_id>/report/", views.report, name="report"),
    path("<int:room_id>/block/", views.block, name="block"),
    path("<int:room_id>/close/", views.close, name="close"),
    path("questions/<int:auction_id>/ask/", views.question_ask, name="question_ask"),
    path("questions/<int:question_id>/answer/", views.question_answer, name="question_answer"),
]
