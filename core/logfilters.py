"""Keep patient data out of the logs: query strings are dropped from every
logged request line or URL (a search for a patient's name is a query string)."""

import logging
import re

_QUERY = re.compile(r"\?[^\s\"']*")


def redact(text):
    return _QUERY.sub("?[redacted]", text)


class RedactQueryStrings(logging.Filter):
    def filter(self, record):
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
