"""neighborbid.serving: Daphne's requests skip Twisted's parse of a form body (Django parses it)."""

from __future__ import annotations

from types import SimpleNamespace

from daphne.http_protocol import WebRequest
from twisted.web.test.requesthelper import DummyChannel

from neighborbid.serving import daphne_form_parsing_off

BODY = b"amount=12000&request_id=abc&csrfmiddlewaretoken=t"


def received(**kwargs) -> WebRequest:
    """A form POST as Daphne's request receives it, up to the point Daphne takes over."""
    channel = DummyChannel()
    channel.factory = SimpleNamespace(server=SimpleNamespace(protocol_connected=lambda request: None))
    request = WebRequest(channel, **kwargs)
    request.requestHeaders.setRawHeaders(b"content-type", [b"application/x-www-form-urlencoded"])
    request.gotLength(len(BODY))
    request.handleContentChunk(BODY)
    request.process = lambda: None  # Daphne's own step: hand the body to the application
    request.requestReceived(b"POST", b"/auctions/1/bid/?next=1", b"HTTP/1.1")
    return request


def test_a_form_body_reaches_daphne_whole_and_unparsed():
    # given the switch (neighborbid.asgi turns it on in every server)
    assert daphne_form_parsing_off() is True
    # when a form POST is received
    request = received()
    # then Twisted parsed only the query string, and the body is there from its start for Django
    assert request.args == {b"next": [b"1"]}
    assert request.content.read() == BODY


def test_the_parse_it_skips_is_twisteds_own_when_asked_for():
    # the control: the same request with Twisted's parse asked for explicitly parses the body
    request = received(parsePOSTFormSubmission=True)
    assert request.args[b"amount"] == [b"12000"]
    assert request.content.read() == BODY


def test_turning_it_on_twice_wraps_once():
    daphne_form_parsing_off()
    first = WebRequest.__init__
    daphne_form_parsing_off()
    assert WebRequest.__init__ is first
