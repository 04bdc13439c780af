"""What the tests share besides tests/conftest.py.

Fixture plugins (named in ``pytest_plugins`` of tests/conftest.py, so every test module can ask
for their fixtures by name): ``api_fixtures`` (the /api/v1 app), ``stories`` (one press release
from three cities on a feed server), ``topic_rules`` (the real topic rules). Helper modules,
imported by name: ``cli`` (the ``syndicate`` command as a child process), ``ops_fixtures``,
``processes`` (real child processes), ``labelled`` (the labelled deduplication set).
"""
