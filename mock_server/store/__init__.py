"""The only code that touches SQLite: speakers, enrollments, async jobs, webhook attempts."""
from mock_server.store.database import Job, Runner, SpeakerRecord, Store

__all__ = ["Job", "Runner", "SpeakerRecord", "Store"]
