"""Reads run side by side: a report's count queries on several connections at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import current_app


def read_all(session, reads: list) -> list:
    """Each read's result (a read: a function of a connection), in order. On PostgreSQL
    (psycopg) they run at once on up to REPORT_READERS connections of the session's engine
    (default 2: PostgreSQL packs one query's rows on one core, so the answers and the patterns
    are packed side by side), each its own READ COMMITTED transaction as each statement was
    before. Other connections do not see a transaction's uncommitted rows, so a session that
    has written in its transaction reads them itself, one after the other."""
    conn = session.connection()
    readers = min(int(current_app.config.get("REPORT_READERS", 2)), len(reads))
    if (
        readers < 2
        or conn.dialect.name != "postgresql"
        or conn.dialect.driver != "psycopg"
        or conn.exec_driver_sql("SELECT txid_current_if_assigned()").scalar() is not None
    ):
        return [read(conn) for read in reads]

    def apart(read):
        with conn.engine.connect() as other, other.begin():
            return read(other)

    with ThreadPoolExecutor(max_workers=readers) as pool:
        return list(pool.map(apart, reads))
