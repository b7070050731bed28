"""The only code that touches SQLite: speakers, enrollments, async jobs, webhook attempts."""
from mock_server.store.database import Job, SpeakerRecord, Store

__all__ = ["Job", "SpeakerRecord", "Store"]
