# Shared fixtures for the library's and the demo shop's suites (real worker, real browser).
pytest_plugins = ["tests.fixtures"]
