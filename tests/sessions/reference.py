"""The ORM reads that pages of sessions had before each was read with one SQL
statement: the references the tests hold those statements to. The session page
(sessions.selectors.session_page.session_detail_page;
tests/sessions/test_session_page_sql.py). The application does not run them."""

from sessions.models import TherapySession
from sessions.selectors.attendance import session_roster
from sessions.selectors.scheduling import session_detail, session_page


def session_detail_page_orm(*, pk, user, errors=None, values=None):
    """The tests' reference for sessions.selectors.session_page.session_detail_page:
    the same read with the ORM selectors the page had (six queries)."""
    try:
        session = session_detail(pk)
    except TherapySession.DoesNotExist:
        return None
    roster = session_roster(session=session, user=user, errors=errors, values=values)
    context = session_page(session=session, participants=roster["participants"])
    return {"session": session, "roster": roster, "context": context}
