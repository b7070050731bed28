"""What ships to users for their own tests: a live mock server in a subprocess, a webhook receiver, an HTTP
client helper (``http_json``, ``http_text`` for pages), a polling helper (``wait_until``), and the pytest plugin
(``mock_server.testing.pytest_plugin``, registered as ``speaker_id_mock``)."""
from mock_server.testing.live import Delivery, LiveServer, Reply, WebhookReceiver, http_json, http_text, wait_until

__all__ = ["Delivery", "LiveServer", "Reply", "WebhookReceiver", "http_json", "http_text", "wait_until"]
