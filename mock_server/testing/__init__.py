"""What ships to users for their own tests: a live mock server in a subprocess, a webhook receiver, an HTTP
client helper, and the pytest plugin (``mock_server.testing.pytest_plugin``, registered as ``speaker_id_mock``)."""
from mock_server.testing.live import Delivery, LiveServer, Reply, WebhookReceiver, http_json

__all__ = ["Delivery", "LiveServer", "Reply", "WebhookReceiver", "http_json"]
