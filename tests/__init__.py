"""fitbot test suite (a package so helpers import as ``tests.fake_bot_api``)."""
