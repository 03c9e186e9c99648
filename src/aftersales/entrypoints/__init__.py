"""The ways in: the command line (``cli``), the HTTP API (``api``) and the web pages (``web``)."""
