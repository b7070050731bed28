"""``python -m mock_server``: the server's command line (mock_server.server.main)."""
from mock_server.server.main import main

if __name__ == "__main__":
    raise SystemExit(main())
