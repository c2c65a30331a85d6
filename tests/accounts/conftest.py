from tests.security.conftest import enrol, security_on  # noqa: F401
